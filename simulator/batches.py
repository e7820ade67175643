"""Orders and order lines of one day as column arrays, before they become export tables."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

# Kinds of traffic (never exported; they set the true fraud probability). HIJACK only after a regime change.
LEGIT, VELOCITY, TAKEOVER, CARD_TESTING, RING, HIJACK = 0, 1, 2, 3, 4, 5


@dataclass
class OrderBatch:
    """One entry per order (and its single payment attempt)."""

    store: np.ndarray
    customer: np.ndarray  # -1: anonymous
    utc: np.ndarray  # ordered_at, UTC epoch seconds
    tz: np.ndarray  # zone the systems export this order's timestamps in
    currency: np.ndarray
    device: np.ndarray  # -1: none (in store)
    card: np.ndarray
    ip_country: np.ndarray  # -1: none (in store)
    kind: np.ndarray
    new_device: np.ndarray
    travel: np.ndarray
    fraud_p: np.ndarray  # NaN: derive from the legit risk model
    decline_p: np.ndarray
    mcc: np.ndarray  # index into the run's MCC list; -1: from the category of the highest-value line

    @property
    def size(self) -> int:
        return self.store.shape[0]

    def take(self, idx: np.ndarray) -> OrderBatch:
        return OrderBatch(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})


@dataclass
class LineBatch:
    """One entry per order line; `order` indexes the matching OrderBatch."""

    order: np.ndarray
    product: np.ndarray
    quantity: np.ndarray
    price_usd: np.ndarray  # effective unit price in USD
    fixed_price: np.ndarray  # unit price in order currency (major units), NaN: convert price_usd

    @property
    def size(self) -> int:
        return self.order.shape[0]


def make_orders(n: int, **columns: np.ndarray | float | int) -> OrderBatch:
    """An OrderBatch of `n` orders; scalars are broadcast."""
    defaults: dict[str, float | int] = {
        "customer": -1,
        "device": -1,
        "ip_country": -1,
        "kind": LEGIT,
        "new_device": False,
        "travel": False,
        "fraud_p": np.nan,
        "decline_p": 0.0,
        "mcc": -1,
    }
    values = {}
    for f in fields(OrderBatch):
        value = columns.get(f.name, defaults.get(f.name))
        if value is None:
            raise KeyError(f"make_orders: missing column {f.name}")
        values[f.name] = np.broadcast_to(np.asarray(value), (n,)).copy()
    return OrderBatch(**values)


def make_lines(
    order: np.ndarray,
    product: np.ndarray,
    quantity: np.ndarray,
    price_usd: np.ndarray,
    fixed: np.ndarray | None = None,
) -> LineBatch:
    """Order lines; `fixed` overrides the converted unit price (order currency, major units)."""
    fixed_price = np.full(order.shape[0], np.nan) if fixed is None else np.asarray(fixed, dtype=np.float64)
    return LineBatch(order, product, quantity, price_usd, fixed_price)


def concat(parts: list[tuple[OrderBatch, LineBatch]]) -> tuple[OrderBatch, LineBatch]:
    """Stack several (orders, lines) pairs, re-pointing line.order at the combined batch."""
    offsets = np.cumsum([0] + [o.size for o, _ in parts])
    orders = OrderBatch(
        **{f.name: np.concatenate([getattr(o, f.name) for o, _ in parts]) for f in fields(OrderBatch)}
    )
    lines = LineBatch(
        order=np.concatenate([ln.order + off for (_, ln), off in zip(parts, offsets[:-1], strict=True)]),
        product=np.concatenate([ln.product for _, ln in parts]),
        quantity=np.concatenate([ln.quantity for _, ln in parts]),
        price_usd=np.concatenate([ln.price_usd for _, ln in parts]),
        fixed_price=np.concatenate([ln.fixed_price for _, ln in parts]),
    )
    return orders, lines
