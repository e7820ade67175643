"""The producer turns landing files into events the consumer parses back into the same rows."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from streaming.events import parse_event, usd_rates
from streaming.landing import write_micro_batch
from streaming.producer import as_if_later, events_for_days, live_events
from tests.streaming.events import event

pytestmark = pytest.mark.streaming


def test_a_landing_day_replays_as_events_that_parse_back_to_its_rows(tmp_path: Path) -> None:
    day, rates = date(2025, 3, 1), usd_rates()
    originals = [parse_event(f"1-{i}", event(payment_id=f"pay_{i}"), rates).landing for i in range(3)]
    write_micro_batch(tmp_path, "c1", originals)
    replayed = [parse_event("2-0", body, rates).landing for body in events_for_days(tmp_path, [day])]
    assert [r.row for r in replayed] == [o.row for o in originals]
    assert {r.published_on for r in replayed} == {day}
    assert list(events_for_days(tmp_path, [date(2025, 3, 2)])) == []


def test_a_day_replayed_as_if_later_is_new_to_the_snapshot_and_as_malformed_as_it_was(tmp_path: Path) -> None:
    day, rates = date(2025, 3, 1), usd_rates()
    originals = [parse_event(f"1-{i}", event(payment_id=f"pay_{i}"), rates) for i in range(2)]
    write_micro_batch(tmp_path, "c1", [original.landing for original in originals])
    later = [parse_event("2-0", body, rates) for body in live_events(tmp_path, day, days_ahead=2)]
    assert [p.payment.payment_id for p in later] == ["d1_pay_0", "d1_pay_1", "d2_pay_0", "d2_pay_1"]
    assert [p.payment.paid_at_utc - originals[0].payment.paid_at_utc for p in later[::2]] == [
        timedelta(days=1),
        timedelta(days=2),
    ]
    assert [str(p.landing.published_on) for p in later[::2]] == ["2025-03-02", "2025-03-03"]
    assert later[0].payment.amount_usd == originals[0].payment.amount_usd
    naive = as_if_later(event(paid_at="2025-03-01T10:00:00", payment_id=None), 1)
    assert json.loads(naive)["payment"]["paid_at"] == "2025-03-02T10:00:00"  # still without an offset
    assert json.loads(naive)["payment"]["payment_id"] is None
    assert json.loads(as_if_later(event(paid_at="soon"), 1))["payment"]["paid_at"] == "soon"
