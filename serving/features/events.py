"""A payment as the online path sees it, and the compact event the feature store keeps of it.

Times are integer microseconds since the epoch (DuckDB's TIMESTAMP), amounts integer cents (the
warehouse's amount_usd is DECIMAL(14,2)): window sums and averages then come out exactly as
DuckDB's decimal aggregates do."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)
_CENT = Decimal("0.01")

# Event: (paid_us, payment_id, cents, is_authorized, card_fingerprint, device_id, customer_id).
# Ordered by (paid_us, payment_id), the order of the batch SQL's windows and tie-breaks.
Event = tuple[int, str, int, bool, str, str | None, str | None]
PAID_US, PAYMENT_ID, CENTS, IS_AUTHORIZED = 0, 1, 2, 3
FIELD_INDEX = {"card_fingerprint": 4, "device_id": 5, "customer_id": 6}


@dataclass(frozen=True)
class PaymentEvent:
    """One payment as the online path sees it."""

    payment_id: str
    paid_at: datetime  # naive UTC
    customer_id: str | None
    card_fingerprint: str
    device_id: str | None
    amount_usd: float
    channel: str
    merchant_category_code: str
    ip_country: str | None
    is_authorized: bool = True


def to_micros(moment: datetime) -> int:
    """Microseconds since the epoch of a naive UTC datetime."""
    if moment.tzinfo is not None:
        raise ValueError(f"paid_at must be naive UTC, got {moment.isoformat()}")
    return (moment - _EPOCH) // _MICROSECOND


def from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def to_cents(amount_usd: float) -> int:
    """The amount as the warehouse stores it, DECIMAL(14,2): rounded half away from zero from its
    shortest decimal form (12.345 -> 1235 cents), as DuckDB's round(..., 2) does."""
    if not math.isfinite(amount_usd):
        raise ValueError(f"amount_usd must be a finite number, got {amount_usd!r}")
    return int(Decimal(repr(float(amount_usd))).quantize(_CENT, rounding=ROUND_HALF_UP) * 100)


def to_event(payment: PaymentEvent) -> Event:
    return (
        to_micros(payment.paid_at),
        payment.payment_id,
        to_cents(payment.amount_usd),
        payment.is_authorized,
        payment.card_fingerprint,
        payment.device_id,
        payment.customer_id,
    )
