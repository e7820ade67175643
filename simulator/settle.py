"""Price, pay and score one day's orders: amounts, true fraud probability, outcome, identifiers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.batches import LEGIT, LineBatch, OrderBatch
from simulator.world import World

DAY = 86_400
# Merchant category code by product category name (the highest-value line decides).
CATEGORY_MCC = {
    "electronics": "5732",
    "gift cards": "5815",
    "footwear": "5661",
    "home textiles": "5719",
    "kitchen": "5719",
    "accessories": "5311",
}
APPAREL_MCC, DEFAULT_MCC = "5651", "5311"


@dataclass
class Settled:
    """A day's orders sorted by time, with everything needed to export them."""

    orders: OrderBatch
    line_order: np.ndarray
    line_number: np.ndarray
    line_product: np.ndarray
    line_quantity: np.ndarray
    line_cents: np.ndarray  # unit price in order currency, cents
    amount_cents: np.ndarray
    paid_utc: np.ndarray
    order_seq: np.ndarray  # global order number
    payment_seq: np.ndarray  # global payment number
    mcc: np.ndarray  # index into World-level MCC list
    fraud_p: np.ndarray
    is_fraud: np.ndarray
    declined: np.ndarray

    @property
    def size(self) -> int:
        return self.orders.size


def mcc_table(world: World) -> tuple[list[str], np.ndarray]:
    """MCC strings and, per category index, the MCC index; codes must exist in merchant_categories.csv."""
    known = world.ref.merchant_category_codes
    codes: list[str] = []
    per_category = []
    for name, department in zip(world.ref.category_names, world.ref.category_departments, strict=True):
        code = CATEGORY_MCC.get(name.strip().lower())
        if code is None:
            code = APPAREL_MCC if department.strip().lower() == "apparel" else DEFAULT_MCC
        if code not in known:
            code = DEFAULT_MCC if DEFAULT_MCC in known else known[0]
        if code not in codes:
            codes.append(code)
        per_category.append(codes.index(code))
    return codes, np.array(per_category)


def unit_cents(world: World, currency: np.ndarray, price_usd: np.ndarray, fixed: np.ndarray) -> np.ndarray:
    """Unit prices converted to the order currency, rounded to its minor unit, as cents."""
    money = world.money
    major = np.where(np.isnan(fixed), price_usd / money.usd_per_unit[currency], fixed)
    step = 10 ** (2 - money.minor_units[currency])
    return np.maximum(np.rint(major * 100 / step), 1).astype(np.int64) * step


def legit_fraud_probability(world: World, orders: OrderBatch, amount_usd: np.ndarray) -> np.ndarray:
    """Small base risk, higher for big tickets, very new accounts, travel and new devices."""
    online = world.stores.online[orders.store]
    customer = np.maximum(orders.customer, 0)
    age_days = (orders.utc - world.customers.signup_utc[customer]) / DAY
    new_account = (orders.customer >= 0) & (age_days < 7)
    ticket = 1 + np.minimum(amount_usd, 3000) / 300
    p_online = 0.0007 * ticket * np.where(new_account, 3.0, 1.0)
    p_online *= np.where(orders.travel, 4.0, 1.0) * np.where(orders.new_device, 3.0, 1.0)
    p_store = 0.0002 * (1 + np.minimum(amount_usd, 3000) / 500)
    return np.minimum(np.where(online, p_online, p_store), 0.05)


def settle(
    world: World,
    orders: OrderBatch,
    lines: LineBatch,
    next_order: int,
    next_payment: int,
    category_mcc: np.ndarray,
    rng: np.random.Generator,
) -> Settled:
    # Time order (stable: ties keep generation order).
    perm = np.argsort(orders.utc, kind="stable")
    orders = orders.take(perm)
    rank = np.empty_like(perm)
    rank[perm] = np.arange(perm.shape[0])
    line_order = rank[lines.order]
    line_sort = np.lexsort((lines.product, line_order))
    line_order = line_order[line_sort]
    product = lines.product[line_sort]
    quantity = lines.quantity[line_sort].astype(np.int64)
    cents = unit_cents(
        world, orders.currency[line_order], lines.price_usd[line_sort], lines.fixed_price[line_sort]
    )
    first_line = np.searchsorted(line_order, line_order, side="left")
    line_number = np.arange(line_order.shape[0]) - first_line + 1

    n = orders.size
    amount = np.rint(np.bincount(line_order, weights=quantity * cents, minlength=n)).astype(np.int64)
    amount_usd = amount / 100.0 * world.money.usd_per_unit[orders.currency]
    fraud_p = np.where(
        orders.kind == LEGIT, legit_fraud_probability(world, orders, amount_usd), orders.fraud_p
    )
    is_fraud = rng.random(n) < fraud_p
    declined = rng.random(n) < orders.decline_p

    # MCC from the category of each order's highest-value line.
    value = quantity * cents
    by_value = np.lexsort((-value, line_order))
    top = by_value[np.searchsorted(line_order[by_value], np.arange(n), side="left")]
    mcc = category_mcc[world.catalog.category[product[top]]] if n else np.zeros(0, dtype=np.int64)
    mcc = np.where(orders.mcc >= 0, orders.mcc, mcc)  # campaigns may set their own MCC

    return Settled(
        orders=orders,
        line_order=line_order,
        line_number=line_number,
        line_product=product,
        line_quantity=quantity,
        line_cents=cents,
        amount_cents=amount,
        paid_utc=orders.utc + rng.integers(2, 41, n),
        order_seq=next_order + np.arange(n),
        payment_seq=next_payment + np.arange(n),
        mcc=mcc,
        fraud_p=fraud_p,
        is_fraud=is_fraud,
        declined=declined,
    )
