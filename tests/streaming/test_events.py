"""Stream events: the consumer derives each payment's scoring fields as the staging model does, and
names a defect as the warehouse names it."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal

import duckdb
import pytest

from streaming.events import COLUMNS, MalformedEvent, landing_message, parse_event, usd_rates
from tests.pipeline import PipelineRun
from tests.streaming.events import event

pytestmark = pytest.mark.streaming

RATES = usd_rates()
# the warehouse's rules that need the warehouse (orders it knows, duplicates, the export date, its
# own amount ceiling): the consumer scores and lands such rows, and the warehouse quarantines them
WAREHOUSE_ONLY = {"orphan_order_id", "absurd_amount", "timestamp_after_export"}


def test_an_event_becomes_its_landing_row_and_the_apis_payment() -> None:
    parsed = parse_event("5-0", event(), RATES)
    assert parsed.landing.message_id == "5-0" and str(parsed.landing.published_on) == "2025-03-01"
    assert parsed.landing.row["amount"] == Decimal("10.00") and parsed.landing.row["channel"] == " Online "
    payment = parsed.payment
    assert str(payment.paid_at_utc) == "2025-03-02 01:30:00"
    assert payment.amount_usd == 10.85  # the currencies seed: 1.085 USD per EUR, to the cent
    assert (payment.channel, payment.ip_country, payment.is_authorized) == ("online", "DE", True)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not_json"),
        (b"[1, 2]", "not_an_event"),
        (json.dumps({"payment": {}}).encode(), "not_an_event"),
        (json.dumps({"published_on": "yesterday", "payment": {}}).encode(), "invalid_published_on"),
        (event(extra="x"), "unexpected_field"),
        (event(payment_id=None), "missing_required_field:payment_id"),
        (event(customer_id=7), "invalid_type:customer_id"),
        (event(amount="ten"), "invalid_type:amount"),
        (event(amount=True), "invalid_type:amount"),
        (event(amount="NaN"), "invalid_type:amount"),
        (event(amount="1e10"), "invalid_type:amount"),
        (event(device_id="\ud800"), "invalid_text:device_id"),
        (event(paid_at="2025-03-01T10:00:00"), "timestamp_without_timezone"),
        (event(paid_at="2025-13-01T10:00:00Z"), "invalid_timestamp"),
        (event(currency="XXX"), "unknown_currency"),
        (event(amount="0"), "non_positive_amount"),
        (event(channel="phone"), "invalid_channel"),
        (event(payment_status="pending"), "invalid_payment_status"),
        (event(card_fingerprint="not-hex"), "invalid_payment:card_fingerprint"),
    ],
)
def test_an_event_that_cannot_be_scored_is_refused_with_its_reason(body: bytes, reason: str) -> None:
    with pytest.raises(MalformedEvent) as refused:
        parse_event("5-0", body, RATES)
    assert refused.value.reason == reason


@pytest.mark.parametrize(
    "body",
    [
        event(currency="XXX"),
        event(amount="-5"),
        event(order_id=None, customer_id=None, amount=None),
        event(paid_at="2025-03-01T10:00:00"),
        event(payment_status="pending", channel="phone"),
    ],
)
def test_an_event_the_scorer_refuses_still_lands_for_the_warehouse_to_quarantine(body: bytes) -> None:
    """Only what the landing contract's schema cannot hold is kept out of the landing zone: every
    other defect is the warehouse's to quarantine, with its reason, as in a daily file."""
    with pytest.raises(MalformedEvent):
        parse_event("5-0", body, RATES)
    landed = landing_message("5-0", body)
    assert landed.row["payment_id"] == "pay_1" and set(landed.row) == set(COLUMNS)


def test_the_consumer_reads_every_landing_row_as_the_warehouse_does(tiny_pipeline_run: PipelineRun) -> None:
    """Every payment row the tiny world's warehouse loaded, sent as an event: where the warehouse
    kept the row, the consumer's amount in USD, UTC time, channel, country, category and status
    are the staging model's; where the warehouse quarantined it for a defect the consumer checks,
    the consumer refuses it with the same reason."""
    assert tiny_pipeline_run.result.returncode == 0, tiny_pipeline_run.output[-3000:]
    with duckdb.connect(str(tiny_pipeline_run.env.database), read_only=True) as con:
        rows = con.sql(
            "select _source_row, _dq_reason, amount_usd, paid_at, channel, ip_country, "
            "payment_status = 'authorized', merchant_category_code "
            "from staging.base_payments__payments order by _source_file, _source_row_number"
        ).fetchall()
    outcomes: Counter[str] = Counter()
    for source_row, reason, usd, paid_at, channel, country, authorized, category in rows:
        raw = json.loads(source_row)
        payment = {column: raw.get(column) for column in COLUMNS}
        if payment["amount"] is not None:
            payment["amount"] = str(payment["amount"])
        body = json.dumps({"published_on": "2025-03-01", "payment": payment}).encode()
        try:
            parsed = parse_event("1-0", body, RATES).payment
        except MalformedEvent as refused:
            assert reason is not None, f"the warehouse kept {raw}, the consumer refused it: {refused}"
            if reason not in WAREHOUSE_ONLY:
                assert refused.reason == reason, raw
            outcomes["refused"] += 1
            continue
        assert reason is None or reason in WAREHOUSE_ONLY, f"{raw}: the warehouse says {reason}"
        if reason is None:
            got = (parsed.amount_usd, parsed.paid_at_utc, parsed.channel, parsed.ip_country)
            assert got == (float(usd), paid_at, channel, country), raw
            assert (parsed.is_authorized, parsed.merchant_category_code) == (authorized, category), raw
            outcomes["kept"] += 1
    assert outcomes["kept"] > 1_000 and outcomes["refused"] > 0, outcomes
