"""The static world: stores, time zones, catalog, customers with their cards and devices, fraud rings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np

from simulator.catalog import Catalog, Promotions, build_catalog, build_promotions
from simulator.config import SimConfig
from simulator.customers import LEGIT, RING, Customers, new_people
from simulator.instruments import Cards, Devices
from simulator.names import NameBook, build_namebook
from simulator.reference import Reference
from simulator.rng import Stream, rng_for
from simulator.timefmt import Zones, day_epoch

DAY = 86_400
HIGH_RISK_COUNTRIES = ("NG", "RU", "CN", "RO", "VN", "BR", "IN")
NEIGHBOUR_COUNTRIES = {"CA": 0.04, "ES": 0.035, "IT": 0.035}
RING_ORDERS_PER_DAY = 4.0  # at the reference volume of 1200 payments per day


@dataclass(frozen=True)
class Stores:
    """The simulated stores; index 0 is the online store."""

    ids: list[str]
    country: np.ndarray
    tz: np.ndarray
    currency: np.ndarray
    online: np.ndarray
    opened_day: np.ndarray

    @property
    def size(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class Money:
    """Currencies by index into reference currency codes."""

    codes: list[str]
    usd_per_unit: np.ndarray
    minor_units: np.ndarray
    country_currency: np.ndarray  # per country index


@dataclass(frozen=True)
class Pool:
    """Legit customers eligible for a store, in sign-up order, with cumulative shopping weights."""

    members: np.ndarray
    signup_utc: np.ndarray
    cumulative_weight: np.ndarray

    def draw(self, cutoff_utc: int, n: int, rng: np.random.Generator) -> np.ndarray:
        """`n` customers (weighted) among those signed up before `cutoff_utc`; -1 if none."""
        active = int(np.searchsorted(self.signup_utc, cutoff_utc, side="left"))
        if active == 0:
            return np.full(n, -1, dtype=np.int64)
        total = self.cumulative_weight[active - 1]
        pick = np.searchsorted(self.cumulative_weight[:active], rng.random(n) * total, side="right")
        return self.members[np.minimum(pick, active - 1)]


@dataclass(frozen=True)
class Ring:
    """A fraud ring: shared devices, several fraudster accounts, active in windows of weeks."""

    devices: np.ndarray
    accounts: np.ndarray
    windows: list[tuple[int, int]]
    ip_country: int

    def active(self, day: int) -> bool:
        return any(lo <= day <= hi for lo, hi in self.windows)


@dataclass
class World:
    config: SimConfig
    ref: Reference
    start_utc: int
    stores: Stores
    zones: Zones
    country_tz: np.ndarray
    money: Money
    catalog: Catalog
    promotions: Promotions
    names: NameBook
    customers: Customers
    cards: Cards
    devices: Devices
    n_legit: int
    online_pool: Pool
    country_pools: dict[int, Pool]
    anonymous_cards: dict[int, tuple[int, int]]  # country -> (first card index, count)
    customer_countries: np.ndarray
    customer_country_weights: np.ndarray
    high_risk: np.ndarray
    rings: list[Ring] = field(default_factory=list)
    ring_rate: float = 0.0

    @property
    def scale(self) -> float:
        """Traffic multiplier relative to the reference volume of 1200 payments per day."""
        return self.config.payments_per_day / 1200.0

    def day_date(self, day: int) -> date:
        return date.fromordinal(self.config.start.toordinal() + day)


def _stores(config: SimConfig, ref: Reference, zones: Zones, money: Money) -> Stores:
    chosen = [ref.online_store, *ref.physical_stores[: config.stores]]
    countries = ref.country_codes
    return Stores(
        ids=[s.store_id for s in chosen],
        country=np.array([countries.index(s.country_code) for s in chosen]),
        tz=np.array([zones.code(s.timezone) for s in chosen]),
        currency=np.array([money.country_currency[countries.index(s.country_code)] for s in chosen]),
        online=np.array([s.store_type == "online" for s in chosen]),
        opened_day=np.array([(s.opened_on - config.start).days for s in chosen]),
    )


def _customer_countries(stores: Stores, ref: Reference) -> tuple[np.ndarray, np.ndarray]:
    """Where customers live: mostly the store countries, some neighbours, a few elsewhere."""
    n = len(ref.country_codes)
    store_weight = np.zeros(n)
    for i in range(stores.size):
        store_weight[stores.country[i]] += 0.7 if stores.online[i] else 1.0
    weights = 0.87 * store_weight / store_weight.sum()
    others = [i for i in range(n) if store_weight[i] == 0]
    for i in others:
        weights[i] = NEIGHBOUR_COUNTRIES.get(ref.country_codes[i], 0.0)
    rest = [i for i in others if ref.country_codes[i] not in NEIGHBOUR_COUNTRIES]
    if rest:
        weights[rest] = 0.02 / len(rest)
    countries = np.flatnonzero(weights > 0)
    return countries, weights[countries] / weights[countries].sum()


def _pool(customers: Customers, members: np.ndarray) -> Pool:
    return Pool(members, customers.signup_utc[members], np.cumsum(customers.weight[members]))


def _issue_instruments(
    world_cards: Cards, devices: Devices, c: Customers, idx: np.ndarray, rng: np.random.Generator, us: int
) -> None:
    """Give customers `idx` 1-3 cards and (unless they are ring accounts) 1-2 devices."""
    n_cards = rng.choice([1, 2, 3], idx.shape[0], p=[0.55, 0.3, 0.15])
    owner = np.repeat(idx, n_cards)
    issuing = c.country[owner]
    cards = world_cards.add(owner, issuing, issuing == us, rng)
    c.card_start[idx] = cards[np.concatenate([[0], np.cumsum(n_cards)[:-1]])]
    c.n_cards[idx] = n_cards
    own_devices = c.kind[idx] != RING
    n_dev = np.where(own_devices, rng.choice([1, 2], idx.shape[0], p=[0.6, 0.4]), 0)
    if n_dev.sum():
        first = devices.add(int(n_dev.sum()), rng)
        c.device_start[idx] = np.where(own_devices, first[0] + np.cumsum(n_dev) - n_dev, -1)
    c.n_devices[idx] = n_dev


def build_world(config: SimConfig, ref: Reference) -> World:
    start_utc = day_epoch(config.start)
    days = config.days
    countries = ref.country_codes
    tz_names = sorted(
        {"UTC"} | {s.timezone for s in ref.stores} | {ref.country_timezone(c) for c in countries}
    )
    end_utc = start_utc + days * DAY
    zones = Zones(tz_names, start_utc - 4 * 365 * DAY, end_utc + 200 * DAY)
    country_tz = np.array([zones.code(ref.country_timezone(c)) for c in countries])
    money = Money(
        codes=ref.currency_codes,
        usd_per_unit=np.array([ref.usd_per_unit[c] for c in ref.currency_codes]),
        minor_units=np.array([ref.minor_units[c] for c in ref.currency_codes]),
        country_currency=np.array([ref.currency_codes.index(ref.country_currency[c]) for c in countries]),
    )
    stores = _stores(config, ref, zones, money)
    catalog = build_catalog(config.seed, config.products, days, ref)
    promotions = build_promotions(config.seed, catalog, stores.size, days)
    names = build_namebook()
    cust_countries, cust_weights = _customer_countries(stores, ref)
    us = countries.index("US") if "US" in countries else -1

    rng = rng_for(config.seed, Stream.CUSTOMERS)
    n = config.customers
    pre = rng.random(n) < 0.7
    signup = np.where(
        pre,
        start_utc - rng.integers(1, 3 * 365 * DAY, n),
        start_utc + rng.integers(0, days * DAY, n),
    )
    signup.sort()
    home = rng.choice(cust_countries, n, p=cust_weights)
    customers = Customers.empty()
    people = new_people(home, countries, names, rng)
    legit = customers.append(
        **people,
        signup_utc=signup,
        weight=rng.lognormal(0.0, 1.0, n),
        kind=np.full(n, LEGIT),
        card_start=np.zeros(n),
        n_cards=np.zeros(n),
        device_start=np.zeros(n),
        n_devices=np.zeros(n),
    )
    cards, devices = Cards.empty(config.seed), Devices.empty(config.seed)
    irng = rng_for(config.seed, Stream.INSTRUMENTS)
    _issue_instruments(cards, devices, customers, legit, irng, us)

    # Anonymous walk-in cards, a pool per physical store country.
    physical_countries = sorted({int(c) for c in stores.country[~stores.online]})
    anonymous: dict[int, tuple[int, int]] = {}
    for c in physical_countries:
        share = float((stores.country[~stores.online] == c).mean())
        size = max(200, int(1.5 * n * share))
        foreign = irng.random(size) < 0.05
        issuing = np.where(foreign, irng.choice(cust_countries, size, p=cust_weights), c)
        first = cards.add(np.full(size, -1), issuing, issuing == us, irng)
        anonymous[c] = (int(first[0]), size)

    high_risk = np.array([countries.index(c) for c in HIGH_RISK_COUNTRIES if c in countries])
    if high_risk.size == 0:
        high_risk = np.arange(len(countries))
    world = World(
        config=config,
        ref=ref,
        start_utc=start_utc,
        stores=stores,
        zones=zones,
        country_tz=country_tz,
        money=money,
        catalog=catalog,
        promotions=promotions,
        names=names,
        customers=customers,
        cards=cards,
        devices=devices,
        n_legit=n,
        online_pool=_pool(customers, legit),
        country_pools={c: _pool(customers, legit[home == c]) for c in physical_countries},
        anonymous_cards=anonymous,
        customer_countries=cust_countries,
        customer_country_weights=cust_weights,
        high_risk=high_risk,
    )
    _build_rings(world, us)
    return world


def _build_rings(world: World, us: int) -> None:
    """A few rings of 3-8 shared devices and 4-10 fraudster accounts, each active for weeks."""
    rng = rng_for(world.config.seed, Stream.RINGS)
    days = world.config.days
    c = world.customers
    active_days = 0
    for _ in range(4):
        windows = []
        for _ in range(int(rng.integers(1, 4))):
            length = int(rng.integers(21, 76))
            lo = int(rng.integers(-length // 2, days))
            windows.append((lo, lo + length - 1))
        windows.sort()
        devices = world.devices.add(int(rng.integers(3, 9)), rng, fraudster=True)
        n_acc = int(rng.integers(4, 11))
        first_day, last_day = windows[0][0] - 25, max(windows[-1][1] - 3, windows[0][0])
        signup = world.start_utc + rng.integers(first_day * DAY, (last_day + 1) * DAY, n_acc)
        signup.sort()
        home = rng.choice(world.customer_countries, n_acc, p=world.customer_country_weights)
        accounts = c.append(
            **new_people(home, world.ref.country_codes, world.names, rng, fraudster=True),
            signup_utc=signup,
            weight=np.ones(n_acc),
            kind=np.full(n_acc, RING),
            card_start=np.zeros(n_acc),
            n_cards=np.zeros(n_acc),
            device_start=np.full(n_acc, -1),
            n_devices=np.zeros(n_acc),
        )
        _issue_instruments(world.cards, world.devices, c, accounts, rng, us)
        ring = Ring(devices, accounts, windows, int(rng.choice(world.high_risk)))
        world.rings.append(ring)
        active_days += sum(ring.active(d) for d in range(days))
    # Orders per active ring-day so that rings place RING_ORDERS_PER_DAY on average at the reference scale.
    world.ring_rate = RING_ORDERS_PER_DAY * world.scale * days / active_days if active_days else 0.0
