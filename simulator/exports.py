"""Export rows of each system for one day, as Batches in contract column order."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from simulator.catalog import PRICE_CHANGE_NOTICE_DAYS
from simulator.customers import customer_batch, customer_ids
from simulator.ids import digit_ids, hex_ids, take_strings
from simulator.rng import hashed, salt
from simulator.settle import Settled
from simulator.tables import Batch, TsColumn, make_batch, money
from simulator.world import World

DAY = 86_400


def product_ids(indices: np.ndarray) -> pa.StringArray:
    return digit_ids("P", np.asarray(indices) + 1, 5)


def order_ids(seq: np.ndarray) -> pa.StringArray:
    return digit_ids("ORD-", seq, 9)


def payment_words(seed: int, seq: np.ndarray) -> np.ndarray:
    return hashed(seq, salt(seed, "payment"))


def payment_ids(words: np.ndarray) -> pa.StringArray:
    return hex_ids("pay_", words)


def _dates(world: World, day_index: np.ndarray) -> pa.Array:
    epoch_days = (world.config.start.toordinal() - 719_163) + np.asarray(day_index, dtype=np.int32)
    return pa.array(epoch_days.astype(np.int32), type=pa.int32()).cast(pa.date32())


def shop_and_payments(world: World, s: Settled, mcc_codes: list[str]) -> dict[str, Batch]:
    """orders, order_items and payments of settled orders."""
    o = s.orders
    offsets = world.zones.offsets(o.utc, o.tz)
    known = o.customer >= 0
    cust_ids = customer_ids(world.config.seed, np.maximum(o.customer, 0), known)
    online = world.stores.online[o.store]
    channel = take_strings(["in_store", "online"], online.astype(np.int64))
    store_ids = take_strings(world.stores.ids, o.store)
    oid = order_ids(s.order_seq)
    status = take_strings(["completed", "payment_failed"], s.declined.astype(np.int64))
    orders = make_batch(
        "orders",
        {
            "order_id": oid,
            "customer_id": cust_ids,
            "store_id": store_ids,
            "channel": channel,
            "ordered_at": TsColumn(o.utc, offsets),
            "order_status": status,
        },
    )
    line_currency = o.currency[s.line_order]
    items = make_batch(
        "order_items",
        {
            "order_id": oid.take(pa.array(s.line_order)),
            "line_number": pa.array(s.line_number.astype(np.int32)),
            "product_id": product_ids(s.line_product),
            "quantity": pa.array(s.line_quantity.astype(np.int32)),
            "unit_price": money(s.line_cents),
            "currency": take_strings(world.money.codes, line_currency),
        },
    )
    has_device = o.device >= 0
    has_ip = o.ip_country >= 0
    payments = make_batch(
        "payments",
        {
            "payment_id": payment_ids(payment_words(world.config.seed, s.payment_seq)),
            "order_id": oid,
            "customer_id": cust_ids,
            "card_fingerprint": world.cards.fingerprints(o.card),
            "device_id": world.devices.ids(o.device, has_device),
            "amount": money(s.amount_cents),
            "currency": take_strings(world.money.codes, o.currency),
            "paid_at": TsColumn(s.paid_utc, world.zones.offsets(s.paid_utc, o.tz)),
            "channel": channel,
            "merchant_category_code": take_strings(mcc_codes, s.mcc),
            "ip_country": take_strings(world.ref.country_codes, o.ip_country, has_ip),
            "payment_status": take_strings(["authorized", "declined"], s.declined.astype(np.int64)),
        },
    )
    return {"orders": orders, "order_items": items, "payments": payments}


def _first_use(ids: np.ndarray, utc: np.ndarray, seen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Entities not seen before and the position of their first use today (payments are time-sorted)."""
    valid = np.flatnonzero(ids >= 0)
    uniq, first = np.unique(ids[valid], return_index=True)
    new = ~seen[uniq]
    return uniq[new], valid[first[new]]


def first_seen_instruments(world: World, s: Settled) -> dict[str, Batch]:
    """cards and devices used for the first time today (and mark them seen)."""
    o = s.orders
    result: dict[str, Batch] = {}
    cards, at = _first_use(o.card, s.paid_utc, world.cards.seen)
    if cards.size:
        world.cards.seen[cards] = True
        owner = world.cards.owner[cards]
        owner_ids = customer_ids(world.config.seed, np.maximum(owner, 0), owner >= 0)
        when = TsColumn(s.paid_utc[at], world.zones.offsets(s.paid_utc[at], o.tz[at]))
        result["cards"] = world.cards.batch(cards, when, owner_ids, world.ref.country_codes)
    devices, at = _first_use(o.device, s.paid_utc, world.devices.seen)
    if devices.size:
        world.devices.seen[devices] = True
        when = TsColumn(s.paid_utc[at], world.zones.offsets(s.paid_utc[at], o.tz[at]))
        result["devices"] = world.devices.batch(devices, when)
    return result


def customers(world: World, idx: np.ndarray, updated_utc: np.ndarray) -> Batch:
    return customer_batch(
        world.customers,
        idx,
        updated_utc,
        world.names,
        world.ref.country_codes,
        world.country_tz,
        world.zones,
        world.config.seed,
    )


def catalog_rows(world: World, day: int) -> dict[str, Batch]:
    """products launched today (or before the start, on day 0), price changes and promotions due today."""
    cat, promo = world.catalog, world.promotions
    result: dict[str, Batch] = {}
    launched = np.flatnonzero(np.maximum(cat.launch_day, 0) == day)
    if launched.size:
        result["products"] = make_batch(
            "products",
            {
                "product_id": product_ids(launched),
                "product_name": pa.array([cat.name[i] for i in launched], type=pa.string()),
                "category_id": take_strings(world.ref.category_ids, cat.category[launched]),
                "brand": pa.array([cat.brand[i] for i in launched], type=pa.string()),
                "launched_on": _dates(world, cat.launch_day[launched]),
                "list_price": money(cat.launch_cents[launched]),
            },
        )
    product, valid_from, cents = cat.price_changes()
    due = np.maximum(valid_from - PRICE_CHANGE_NOTICE_DAYS, 0) == day
    if due.any():
        order = np.lexsort((valid_from[due], product[due]))
        result["product_prices"] = make_batch(
            "product_prices",
            {
                "product_id": product_ids(product[due][order]),
                "list_price": money(cents[due][order]),
                "valid_from": _dates(world, valid_from[due][order]),
            },
        )
    due_promo = np.flatnonzero(promo.export_day == day)
    if due_promo.size:
        store = promo.store[due_promo]
        result["promotions"] = make_batch(
            "promotions",
            {
                "promotion_id": digit_ids("PR", due_promo + 1, 6),
                "product_id": product_ids(promo.product[due_promo]),
                "store_id": take_strings(world.stores.ids, np.maximum(store, 0), store >= 0),
                "starts_on": _dates(world, promo.start_day[due_promo]),
                "ends_on": _dates(world, promo.end_day[due_promo]),
                "discount_pct": pa.array(promo.discount[due_promo], type=pa.float64()),
            },
        )
    return result
