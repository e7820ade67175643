"""The payment events on the input stream, and what the consumer needs from each.

An event is the payment service's own record, the row its daily export would hold (the landing
contract's columns, `simulator/schema.py`), and the day it was published on:

    {"published_on": "2025-03-01", "payment": {"payment_id": "...", "amount": "12.50", ...}}

(`amount` as a decimal string, or a number). `landing_message` turns it into the landing row that a
micro-batch file holds: it refuses only an event whose row cannot be stored under the landing
contract's schema (not JSON, not an event, an unknown field, a value of the wrong type), so that
every other defect reaches the warehouse and is quarantined there with its reason, as in a daily
file. `parse_event` also derives the API's `Payment` that the scorer reads, with the staging
model's rules (warehouse/models/staging/payments/base_payments__payments.sql): the amount in USD from
the currencies seed, rounded to the cent; paid_at to UTC, and only with its offset; channel and
status trimmed and lower-cased, IP country upper-cased; authorized when the status says so. An event
that cannot be scored raises `MalformedEvent` with a reason, named as the warehouse names the same
defect where it has one, for the dead-letter stream. The rules that need the warehouse (an order
it knows, a re-sent duplicate, an absurd amount, a time after the export) stay there: such events
are scored and landed, and the warehouse quarantines them as it does a daily file's rows.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from serving.schemas import Payment
from simulator.schema import TABLES
from streaming.landing import LandingMessage

COLUMNS = tuple(TABLES["payments"].schema.names)
REQUIRED = ("payment_id", "order_id", "card_fingerprint", "amount", "currency", "paid_at", "channel")
REQUIRED += ("payment_status",)
OFFSET = re.compile(r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)$")
CENT = Decimal("0.01")
AMOUNT_TYPE = TABLES["payments"].schema.field("amount").type
AMOUNT_BOUND = Decimal(10) ** (AMOUNT_TYPE.precision - AMOUNT_TYPE.scale)
SEEDS_DIR = Path(__file__).resolve().parents[1] / "seeds"


class MalformedEvent(ValueError):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


@dataclass(frozen=True)
class StreamPayment:
    landing: LandingMessage
    payment: Payment


def usd_rates(seeds_dir: Path = SEEDS_DIR) -> dict[str, Decimal]:
    """Currency code -> USD per unit, from the currencies seed the warehouse converts with."""
    with (seeds_dir / "currencies.csv").open(newline="") as handle:
        return {row["currency_code"]: Decimal(row["usd_per_unit"]) for row in csv.DictReader(handle)}


def parse_event(message_id: str, body: bytes, rates: Mapping[str, Decimal]) -> StreamPayment:
    """The landing row and the scorer's payment, or `MalformedEvent` if it cannot be scored."""
    landing = landing_message(message_id, body)
    for column in REQUIRED:
        if landing.row[column] is None:
            raise MalformedEvent(f"missing_required_field:{column}", "null or absent")
    return StreamPayment(landing, _payment(landing.row, rates))


def landing_message(message_id: str, body: bytes) -> LandingMessage:
    """The landing row, or `MalformedEvent` if the landing contract's schema cannot hold it."""
    try:
        event = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedEvent("not_json", str(exc)) from exc
    if not isinstance(event, dict) or set(event) != {"published_on", "payment"}:
        raise MalformedEvent("not_an_event", "expected an object with published_on and payment only")
    try:
        published_on = date.fromisoformat(event["published_on"])
    except (TypeError, ValueError) as exc:
        raise MalformedEvent("invalid_published_on", repr(event["published_on"])[:80]) from exc
    return LandingMessage(message_id, published_on, _landing_row(event["payment"]))


def _landing_row(payment: Any) -> dict[str, Any]:
    if not isinstance(payment, dict):
        raise MalformedEvent("not_an_event", "payment is not an object")
    unknown = sorted(set(payment) - set(COLUMNS))
    if unknown:
        raise MalformedEvent("unexpected_field", ", ".join(unknown)[:200])
    row = {column: payment.get(column) for column in COLUMNS}
    for column, value in row.items():
        if column == "amount" or value is None:
            continue
        if not isinstance(value, str):
            raise MalformedEvent(f"invalid_type:{column}", f"expected a string, got {type(value).__name__}")
        try:
            value.encode()
        except UnicodeEncodeError as exc:  # a lone surrogate: JSON allows it, UTF-8 and Parquet do not
            raise MalformedEvent(f"invalid_text:{column}", str(exc)[:120]) from exc
    amount = row["amount"]
    if amount is None:
        return row
    if isinstance(amount, bool) or not isinstance(amount, str | int | float):
        raise MalformedEvent("invalid_type:amount", f"expected a decimal, got {type(amount).__name__}")
    try:
        row["amount"] = Decimal(str(amount)).quantize(CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation as exc:
        raise MalformedEvent("invalid_type:amount", repr(amount)[:80]) from exc
    if not row["amount"].is_finite() or abs(row["amount"]) >= AMOUNT_BOUND:
        raise MalformedEvent("invalid_type:amount", f"{amount!r} does not fit {AMOUNT_TYPE}"[:120])
    return row


def _payment(row: dict[str, Any], rates: Mapping[str, Decimal]) -> Payment:
    paid_at_raw = row["paid_at"].strip()
    if not OFFSET.search(paid_at_raw):
        raise MalformedEvent("timestamp_without_timezone", paid_at_raw[:40])
    try:
        paid_at = datetime.fromisoformat(paid_at_raw)
    except ValueError as exc:
        raise MalformedEvent("invalid_timestamp", paid_at_raw[:40]) from exc
    rate = rates.get(row["currency"].strip().upper())
    if rate is None:
        raise MalformedEvent("unknown_currency", row["currency"][:20])
    if row["amount"] <= 0:
        raise MalformedEvent("non_positive_amount", str(row["amount"]))
    channel, status = row["channel"].strip().lower(), row["payment_status"].strip().lower()
    if channel not in ("online", "in_store"):
        raise MalformedEvent("invalid_channel", channel[:20])
    if status not in ("authorized", "declined"):
        raise MalformedEvent("invalid_payment_status", status[:20])
    country = row["ip_country"].strip().upper() if row["ip_country"] is not None else None
    try:
        return Payment.model_validate(
            {
                "payment_id": row["payment_id"],
                "paid_at": paid_at.isoformat(),
                "customer_id": row["customer_id"],
                "card_fingerprint": row["card_fingerprint"],
                "device_id": row["device_id"],
                "amount_usd": float((row["amount"] * rate).quantize(CENT, rounding=ROUND_HALF_UP)),
                "channel": channel,
                "merchant_category_code": row["merchant_category_code"],
                "ip_country": country,
                "is_authorized": status == "authorized",
            }
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise MalformedEvent(f"invalid_payment:{field}", first["msg"][:120]) from exc
