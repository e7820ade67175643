"""The producer turns landing files into events the consumer parses back into the same rows."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from streaming.events import parse_event, usd_rates
from streaming.landing import write_micro_batch
from streaming.producer import events_for_days
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
