"""Everyday shopping: realized demand turned into orders, lines and their payment context."""

from __future__ import annotations

import numpy as np

from simulator.batches import LineBatch, OrderBatch, make_lines, make_orders
from simulator.demand import DISPERSION, MEAN_LINES, MEAN_QUANTITY, QUANTITY_P
from simulator.world import World

# Local-hour profiles: physical stores open 9-21, online around the clock with an evening peak.
PHYSICAL_HOURS = np.arange(9, 21)
PHYSICAL_HOUR_P = np.array([3, 4, 6, 8, 7, 6, 6, 7, 9, 10, 8, 5], dtype=float)
ONLINE_HOUR_P = np.array(
    [
        1.5,
        1,
        0.6,
        0.4,
        0.3,
        0.4,
        0.8,
        1.5,
        2.5,
        3,
        3.2,
        3.4,
        3.6,
        3.4,
        3.2,
        3.2,
        3.4,
        3.8,
        4.5,
        5.5,
        6,
        5.5,
        4,
        2.5,
    ]
)
LOYALTY_SHARE = 0.6
PRIMARY_CARD_SHARE = 0.7
NEW_DEVICE_SHARE = 0.01
TRAVEL_SHARE = 0.02
DECLINE_ONLINE, DECLINE_IN_STORE = 0.02, 0.006
SIGNUP_MARGIN = 14 * 3600  # online orders only for customers signed up before the earliest local midnight
FIRST_ORDER_SHARE = 0.3  # of today's sign-ups place an online order within hours of signing up


def local_hour_times(
    midnight_utc: np.ndarray, hours: np.ndarray, hour_p: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """UTC instants at random local times of day following an hourly profile."""
    hour = rng.choice(hours, midnight_utc.shape[0], p=hour_p / hour_p.sum())
    return midnight_utc + hour * 3600 + rng.integers(0, 3600, midnight_utc.shape[0])


def customer_cards(world: World, customer: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A card of each customer: mostly the primary one."""
    c = world.customers
    n_cards = c.n_cards[customer]
    pick = np.where(
        rng.random(customer.shape[0]) < PRIMARY_CARD_SHARE, 0, rng.integers(0, 3, customer.shape[0])
    )
    return c.card_start[customer] + pick % n_cards


def realized_lines(lam: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Poisson-gamma order lines per (store, product), E[units] = lam; returns store, product, quantity."""
    mu = lam / MEAN_QUANTITY
    rate = rng.gamma(DISPERSION, 1.0, mu.shape) * mu / DISPERSION
    counts = rng.poisson(rate).ravel()
    cell = np.repeat(np.arange(counts.shape[0]), counts)
    n_products = lam.shape[1]
    quantity = rng.choice(np.arange(1, len(QUANTITY_P) + 1), cell.shape[0], p=QUANTITY_P)
    return cell // n_products, cell % n_products, quantity


def _first_orders(
    world: World, day: int, online_slots: np.ndarray, customer: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Give some of today's new customers an online order soon after signing up (in place).

    Returns the order slots taken over and their order instants.
    """
    signup = world.customers.signup_utc[: world.n_legit]
    day_start = world.start_utc + day * 86_400
    lo, hi = np.searchsorted(signup, [day_start, day_start + 86_400])
    newcomers = np.arange(lo, hi)[rng.random(hi - lo) < FIRST_ORDER_SHARE]
    k = min(newcomers.shape[0], online_slots.shape[0])
    slots = np.sort(rng.choice(online_slots, k, replace=False))
    newcomers = newcomers[:k]
    customer[slots] = newcomers
    return slots, signup[newcomers] + rng.integers(120, 3 * 3600, k)


def legit_orders(
    world: World,
    day: int,
    lam: np.ndarray,
    discount: np.ndarray,
    price: np.ndarray,
    midnights: np.ndarray,
    rng: np.random.Generator,
) -> tuple[OrderBatch, LineBatch]:
    """Orders of every store for day `day` from the expected units `lam` (S, P)."""
    store, product, quantity = realized_lines(lam, rng)
    # Shuffle lines within each store, then cut into baskets of geometric size (mean MEAN_LINES).
    perm = np.lexsort((rng.random(store.shape[0]), store))
    store, product, quantity = store[perm], product[perm], quantity[perm]
    starts = rng.random(store.shape[0]) < 1 / MEAN_LINES
    if starts.size:
        starts[0] = True
        starts[1:] |= store[1:] != store[:-1]
    basket = np.cumsum(starts) - 1
    # A product appears once per order: merge repeated picks into one line.
    key = basket * lam.shape[1] + product
    uniq, inverse = np.unique(key, return_inverse=True)
    quantity = np.bincount(inverse, weights=quantity).astype(np.int64)
    basket, product = uniq // lam.shape[1], uniq % lam.shape[1]
    o_store = store[starts]
    n = o_store.shape[0]

    stores, c = world.stores, world.customers
    online = stores.online[o_store]
    cutoff = world.start_utc + day * 86_400 - SIGNUP_MARGIN
    customer = np.full(n, -1, dtype=np.int64)
    on = np.flatnonzero(online)
    customer[on] = world.online_pool.draw(cutoff, on.shape[0], rng)
    first_slots, first_at = _first_orders(world, day, on, customer, rng)
    for s in np.flatnonzero(~stores.online):
        here = np.flatnonzero(o_store == s)
        loyal = here[rng.random(here.shape[0]) < LOYALTY_SHARE]
        customer[loyal] = world.country_pools[int(stores.country[s])].draw(cutoff, loyal.shape[0], rng)
    known = customer >= 0
    cust = np.where(known, customer, 0)

    country = c.country[cust]
    tz = np.where(online, world.country_tz[country], stores.tz[o_store])
    currency = np.where(online, world.money.country_currency[country], stores.currency[o_store])
    utc = np.empty(n, dtype=np.int64)
    phys = np.flatnonzero(~online)
    utc[phys] = local_hour_times(midnights[tz[phys]], PHYSICAL_HOURS, PHYSICAL_HOUR_P, rng)
    utc[on] = local_hour_times(midnights[tz[on]], np.arange(24), ONLINE_HOUR_P, rng)
    utc[first_slots] = first_at

    card = np.empty(n, dtype=np.int64)
    card[known] = customer_cards(world, customer[known], rng)
    for s in np.flatnonzero(~stores.online):
        walk_in = np.flatnonzero((o_store == s) & ~known)
        first, size = world.anonymous_cards[int(stores.country[s])]
        card[walk_in] = first + rng.integers(0, size, walk_in.shape[0])

    device = np.full(n, -1, dtype=np.int64)
    device[on] = c.device_start[cust[on]] + rng.integers(0, 2, on.shape[0]) % np.maximum(
        c.n_devices[cust[on]], 1
    )
    new_device = online & (rng.random(n) < NEW_DEVICE_SHARE)
    if new_device.any():
        device[new_device] = world.devices.add(int(new_device.sum()), rng)
    ip_country = np.where(online, country, -1)
    travel = online & (rng.random(n) < TRAVEL_SHARE)
    n_countries = len(world.ref.country_codes)
    ip_country[travel] = (country[travel] + rng.integers(1, n_countries, int(travel.sum()))) % n_countries

    orders = make_orders(
        n,
        store=o_store,
        customer=customer,
        utc=utc,
        tz=tz,
        currency=currency,
        device=device,
        card=card,
        ip_country=ip_country,
        new_device=new_device,
        travel=travel,
        decline_p=np.where(online, DECLINE_ONLINE, DECLINE_IN_STORE),
    )
    unit_usd = price[product] * (1 - discount[o_store[basket], product])
    lines = make_lines(basket, product, quantity, unit_usd)
    # Online orders need a signed-up customer; drop the (rare) ones before anyone signed up.
    keep = ~online | known
    if keep.all():
        return orders, lines
    new_index = np.cumsum(keep) - 1
    line_keep = keep[lines.order]
    kept_lines = make_lines(
        new_index[lines.order[line_keep]],
        lines.product[line_keep],
        lines.quantity[line_keep],
        unit_usd[line_keep],
    )
    return orders.take(np.flatnonzero(keep)), kept_lines
