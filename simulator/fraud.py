"""Planted fraud campaigns: card-not-present orders of the online store with a high true fraud probability."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from numpy.random import Generator

from simulator.batches import (
    CARD_TESTING,
    HIJACK,
    RING,
    TAKEOVER,
    VELOCITY,
    LineBatch,
    OrderBatch,
    make_lines,
    make_orders,
)
from simulator.customers import CARD_TESTING as CARD_TESTER
from simulator.customers import VELOCITY as VELOCITY_ACCOUNT
from simulator.customers import new_people
from simulator.orders import ONLINE_HOUR_P, SIGNUP_MARGIN, customer_cards, local_hour_times
from simulator.world import RING_ORDERS_PER_DAY, World

DAY = 86_400
# Campaigns started per day at the reference volume (1200 payments/day); scaled with payments-per-day.
VELOCITY_RATE, TAKEOVER_RATE, CARD_TESTING_RATE = 0.7, 1.2, 0.4
HIGH_VALUE_CATEGORIES = ("electronics", "gift cards")
# A campaign type's orders of the day, their lines, and the fraudster accounts it registered today.
Campaign = tuple[OrderBatch, LineBatch, np.ndarray]


def expected_campaign_orders(world: World) -> float:
    """Expected fraud orders per day (used to keep total payments near payments-per-day)."""
    return world.scale * (
        VELOCITY_RATE * 6.5 + TAKEOVER_RATE * 2.0 + CARD_TESTING_RATE * 25.0 + RING_ORDERS_PER_DAY
    )


class CampaignContext:
    """What campaigns of one day draw from: launched products, prices, the day's clock."""

    def __init__(
        self, world: World, day: int, price: np.ndarray, discount: np.ndarray, midnights: np.ndarray
    ):
        self.world, self.day, self.midnights = world, day, midnights
        catalog = world.catalog
        self.unit_usd = price * (1 - discount[0])  # the online store is store 0
        self.launched = np.flatnonzero(catalog.launch_day <= day)
        names = [world.ref.category_names[c].strip().lower() for c in catalog.category[self.launched]]
        valuable = self.launched[np.isin(names, HIGH_VALUE_CATEGORIES)]
        if valuable.size == 0 and self.launched.size:
            cut = np.quantile(price[self.launched], 0.8)
            valuable = self.launched[price[self.launched] >= cut]
        self.valuable = valuable
        gift = self.launched[catalog.gift_card[self.launched]]
        self.tiny_product = gift if gift.size else self.launched[np.argsort(price[self.launched])[:1]]
        self.day_start = world.start_utc + day * DAY

    def pick(self, candidates: np.ndarray, n: int, rng: np.random.Generator, by_price: bool) -> np.ndarray:
        weights = self.unit_usd[candidates] if by_price else self.world.catalog.popularity[candidates]
        return rng.choice(candidates, n, p=weights / weights.sum())

    def baskets(
        self,
        n_orders: int,
        max_lines: int,
        max_qty: int,
        candidates: np.ndarray,
        by_price: bool,
        rng: Generator,
    ) -> LineBatch:
        n_lines = rng.integers(1, max_lines + 1, n_orders)
        order = np.repeat(np.arange(n_orders), n_lines)
        product = self.pick(candidates, order.shape[0], rng, by_price)
        key = np.unique(order * self.world.catalog.size + product)
        order, product = key // self.world.catalog.size, key % self.world.catalog.size
        quantity = rng.integers(1, max_qty + 1, order.shape[0])
        return make_lines(order, product, quantity, self.unit_usd[product])

    def new_accounts(
        self, countries: np.ndarray, signup_utc: np.ndarray, kind: int, rng: Generator
    ) -> np.ndarray:
        """Register fraudster accounts (exported by the CRM today), each with one fresh device."""
        w = self.world
        n = countries.shape[0]
        devices = w.devices.add(n, rng, fraudster=True)
        return w.customers.append(
            **new_people(countries, w.ref.country_codes, w.names, rng, fraudster=True),
            signup_utc=signup_utc,
            weight=np.ones(n),
            kind=np.full(n, kind),
            card_start=np.zeros(n),
            n_cards=np.zeros(n),
            device_start=devices,
            n_devices=np.ones(n),
        )

    def start_times(self, countries: np.ndarray, rng: Generator) -> np.ndarray:
        tz = self.world.country_tz[countries]
        return local_hour_times(self.midnights[tz], np.arange(24), ONLINE_HOUR_P, rng)

    def online_orders(self, customer: np.ndarray, utc: np.ndarray, **columns) -> OrderBatch:
        w = self.world
        country = w.customers.country[customer]
        return make_orders(
            customer.shape[0],
            store=0,
            customer=customer,
            utc=utc,
            tz=w.country_tz[country],
            currency=w.money.country_currency[country],
            **columns,
        )

    def foreign_ip(self, home: np.ndarray, rng: Generator, high_risk_share: float) -> np.ndarray:
        n_countries = len(self.world.ref.country_codes)
        other = (home + rng.integers(1, n_countries, home.shape[0])) % n_countries
        risky = rng.choice(self.world.high_risk, home.shape[0])
        risky = np.where(risky == home, other, risky)
        return np.where(rng.random(home.shape[0]) < high_risk_share, risky, other)


def velocity_bursts(ctx: CampaignContext, rng: Generator) -> Campaign | None:
    """A stolen card used by a brand-new account from a new device: 3-10 pricey payments in an hour."""
    w = ctx.world
    n = int(rng.poisson(VELOCITY_RATE * w.scale))
    victims_cards = np.flatnonzero(w.cards.seen & (w.cards.owner >= 0) & (w.cards.owner < w.n_legit))
    if n == 0 or victims_cards.size == 0 or ctx.valuable.size == 0:
        return None
    card = rng.choice(victims_cards, n)
    victim_country = w.customers.country[w.cards.owner[card]]
    country = np.where(rng.random(n) < 0.6, victim_country, rng.choice(w.high_risk, n))
    start = ctx.start_times(country, rng)
    accounts = ctx.new_accounts(country, start - rng.integers(300, 3 * 3600, n), VELOCITY_ACCOUNT, rng)
    size = rng.integers(3, 11, n)
    campaign = np.repeat(np.arange(n), size)
    utc = start[campaign] + rng.integers(0, 3600, campaign.shape[0])
    ip = np.where(rng.random(n) < 0.5, country, ctx.foreign_ip(country, rng, 0.8))
    orders = ctx.online_orders(
        accounts[campaign],
        utc,
        device=w.customers.device_start[accounts][campaign],
        card=card[campaign],
        ip_country=ip[campaign],
        kind=VELOCITY,
        new_device=True,
        fraud_p=rng.uniform(0.9, 0.97, n)[campaign],
        decline_p=0.15,
    )
    return orders, ctx.baskets(orders.size, 2, 2, ctx.valuable, True, rng), accounts


def account_takeovers(ctx: CampaignContext, rng: Generator) -> Campaign | None:
    """An aged customer's account used from a new device abroad: 1-3 high-value orders."""
    w = ctx.world
    n = int(rng.poisson(TAKEOVER_RATE * w.scale))
    if n == 0 or ctx.valuable.size == 0:
        return None
    victim = w.online_pool.draw(ctx.day_start - 180 * DAY, n, rng)
    victim = victim[victim >= 0]
    n = victim.shape[0]
    if n == 0:
        return None
    country = w.customers.country[victim]
    start = ctx.start_times(country, rng)
    device = w.devices.add(n, rng, fraudster=True)
    ip = ctx.foreign_ip(country, rng, 0.7)
    size = rng.integers(1, 4, n)
    campaign = np.repeat(np.arange(n), size)
    orders = ctx.online_orders(
        victim[campaign],
        start[campaign] + rng.integers(0, 4 * 3600, campaign.shape[0]),
        device=device[campaign],
        card=customer_cards(w, victim, rng)[campaign],
        ip_country=ip[campaign],
        kind=TAKEOVER,
        new_device=True,
        fraud_p=rng.uniform(0.85, 0.95, n)[campaign],
        decline_p=0.05,
    )
    return orders, ctx.baskets(orders.size, 3, 2, ctx.valuable, True, rng), np.zeros(0, dtype=np.int64)


def card_testing(ctx: CampaignContext, rng: Generator) -> Campaign | None:
    """A fresh account and device trying 10-40 new cards with tiny amounts within minutes."""
    w = ctx.world
    n = int(rng.poisson(CARD_TESTING_RATE * w.scale))
    if n == 0 or ctx.tiny_product.size == 0:
        return None
    country = rng.choice(w.customer_countries, n, p=w.customer_country_weights)
    start = ctx.start_times(country, rng)
    accounts = ctx.new_accounts(country, start - rng.integers(120, 3600, n), CARD_TESTER, rng)
    size = rng.integers(10, 41, n)
    campaign = np.repeat(np.arange(n), size)
    m = campaign.shape[0]
    issuing = rng.choice(w.customer_countries, m, p=w.customer_country_weights)
    us = w.ref.country_codes.index("US") if "US" in w.ref.country_codes else -1
    cards = w.cards.add(accounts[campaign], issuing, issuing == us, rng)
    ip = ctx.foreign_ip(country, rng, 0.9)
    orders = ctx.online_orders(
        accounts[campaign],
        start[campaign] + np.sort(rng.integers(0, 15 * 60, m)),
        device=w.customers.device_start[accounts][campaign],
        card=cards,
        ip_country=ip[campaign],
        kind=CARD_TESTING,
        new_device=True,
        fraud_p=0.8,
        decline_p=0.7,
    )
    product = rng.choice(ctx.tiny_product, m)
    amount = np.round(rng.uniform(0.5, 5.0, m), 2)
    lines = make_lines(np.arange(m), product, np.ones(m, dtype=np.int64), ctx.unit_usd[product], amount)
    return orders, lines, accounts


def ring_orders(ctx: CampaignContext, rng: Generator) -> Campaign | None:
    """Accounts of active rings ordering from their shared devices with moderate baskets."""
    w = ctx.world
    parts: list[OrderBatch] = []
    cutoff = ctx.day_start - SIGNUP_MARGIN
    for ring in w.rings:
        if not ring.active(ctx.day):
            continue
        accounts = ring.accounts[w.customers.signup_utc[ring.accounts] < cutoff]
        n = int(rng.poisson(w.ring_rate))
        if n == 0 or accounts.size == 0 or ctx.launched.size == 0:
            continue
        customer = rng.choice(accounts, n)
        country = w.customers.country[customer]
        ip = np.where(rng.random(n) < 0.8, ring.ip_country, country)
        parts.append(
            ctx.online_orders(
                customer,
                ctx.start_times(country, rng),
                device=rng.choice(ring.devices, n),
                card=customer_cards(w, customer, rng),
                ip_country=ip,
                kind=RING,
                fraud_p=rng.uniform(0.6, 0.8, n),
                decline_p=0.1,
            )
        )
    if not parts:
        return None
    orders = parts[0] if len(parts) == 1 else _stack(parts)
    return orders, ctx.baskets(orders.size, 3, 2, ctx.launched, False, rng), np.zeros(0, dtype=np.int64)


def _stack(parts: list[OrderBatch]) -> OrderBatch:
    return OrderBatch(
        **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(OrderBatch)}
    )


CAMPAIGNS = (velocity_bursts, account_takeovers, card_testing, ring_orders)


# The regime change's new fraud pattern (SimConfig.regime_change with "fraud_pattern"), never seen before
# its first day: hijacked sessions of established customers on their usual device and card, ordinary
# baskets, through a residential proxy in the victim's own country (so no IP mismatch), all within
# 05:00-05:59 UTC (the quietest hour), via the catalog (mail/telephone order) checkout that settles
# under its own merchant category code. Nothing the fraud model learned before flags it.
# A steady botnet hijacking a fixed share of the day's expected traffic (no Poisson noise), so every day
# shows it equally.
HIJACK_CAMPAIGN = "session_hijack"  # the campaign name in the oracle's regime files
HIJACK_SHARE = 0.12  # hijacked orders per day, as a share of the day's expected payments (on top of them)
HIJACK_ORDERS_PER_VICTIM = (1, 2)  # inclusive range
HIJACK_UTC_HOURS = (5, 6)  # [first, last) UTC hour
HIJACK_MCC = "5964"  # Direct Marketing - Catalog Merchant: in merchant_categories.csv, unused by products
HIJACK_MIN_ACCOUNT_AGE_DAYS = 180


@dataclass(frozen=True)
class HijackPlan:
    """The fixed traits of the session-hijack pattern in one run."""

    first_day: int  # day index of the regime change
    mcc: int  # index into the run's MCC list

    def describe(self, world: World, mcc_codes: list[str]) -> dict[str, object]:
        return {
            "campaign": HIJACK_CAMPAIGN,
            "ip_country": "the victim's own (residential proxy)",
            "merchant_category_code": mcc_codes[self.mcc],
            "paid_hours_utc": list(range(*HIJACK_UTC_HOURS)),
            "orders_share_of_payments_per_day": HIJACK_SHARE,
            "min_account_age_days": HIJACK_MIN_ACCOUNT_AGE_DAYS,
        }


def plan_hijack(world: World, first_day: int, mcc_codes: list[str]) -> tuple[HijackPlan, list[str]]:
    """Pick the pattern's MCC, one no product category maps to, so it never occurs before the
    change; returns the plan and the MCC list it indexes."""
    known = world.ref.merchant_category_codes
    unused = [code for code in known if code not in mcc_codes]
    code = HIJACK_MCC if HIJACK_MCC in unused else (unused[0] if unused else mcc_codes[-1])
    codes = mcc_codes if code in mcc_codes else [*mcc_codes, code]
    return HijackPlan(first_day, codes.index(code)), codes


def session_hijack(
    ctx: CampaignContext, plan: HijackPlan, expected_payments: float, rng: Generator
) -> Campaign | None:
    """Established customers' sessions hijacked: their device, card and country, ordinary baskets,
    an odd hour and merchant category."""
    w = ctx.world
    lo, hi = HIJACK_ORDERS_PER_VICTIM
    n = round(HIJACK_SHARE * expected_payments / ((lo + hi) / 2))
    if n == 0 or ctx.launched.size == 0:
        return None
    # Twice as many candidates as needed: prefer those whose device and card were used before (in the
    # simulated period; right after the start few are, then the others fill up the day's volume).
    victim = w.online_pool.draw(ctx.day_start - HIJACK_MIN_ACCOUNT_AGE_DAYS * DAY, 2 * n, rng)
    victim = victim[victim >= 0]
    c = w.customers
    victim = victim[c.n_devices[victim] > 0]
    device = c.device_start[victim] + rng.integers(0, 2, victim.shape[0]) % c.n_devices[victim]
    card = customer_cards(w, victim, rng)
    usual = w.devices.seen[device] & w.cards.seen[card]
    keep = np.argsort(~usual, kind="stable")[:n]
    if keep.size == 0:
        return None
    victim, device, card = victim[keep], device[keep], card[keep]
    size = rng.integers(lo, hi + 1, victim.shape[0])
    session = np.repeat(np.arange(victim.shape[0]), size)
    # An instant in the UTC window that falls on the victim's local day (its date= partition).
    midnight = ctx.midnights[w.country_tz[c.country[victim]]]
    first, last = HIJACK_UTC_HOURS
    within = rng.integers(0, (last - first) * 3600, session.shape[0])
    utc = midnight[session] + ((first * 3600 - midnight[session]) % DAY + within) % DAY
    orders = ctx.online_orders(
        victim[session],
        utc,
        device=device[session],
        card=card[session],
        ip_country=c.country[victim][session],
        kind=HIJACK,
        mcc=plan.mcc,
        fraud_p=rng.uniform(0.85, 0.95, victim.shape[0])[session],
        decline_p=0.03,
    )
    return orders, ctx.baskets(orders.size, 3, 2, ctx.launched, False, rng), np.zeros(0, dtype=np.int64)
