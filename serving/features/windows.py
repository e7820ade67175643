"""Trailing windows over each entity's payments, kept in memory: per card, device or customer a list
of events sorted by (paid_us, payment_id), and the declared aggregates over a slice of it computed
the way DuckDB computes them in feat_payment_fraud."""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Callable, Iterable

import numpy as np

from serving.features.declaration import WindowFeature
from serving.features.events import CENTS, FIELD_INDEX, IS_AUTHORIZED, Event

Reducer = Callable[[list[Event]], float | int | None]
_HUNDRED = np.longdouble(100)


class EntityWindows:
    """The events of each key of one entity (card_fingerprint, device_id or customer_id); a payment
    without that entity (null) is in none."""

    def __init__(self, entity: str) -> None:
        self.entity = entity
        self.index = FIELD_INDEX[entity]
        self.events: dict[str, list[Event]] = {}

    def extend_sorted(self, events: Iterable[Event]) -> None:
        """Bulk load: events already in (paid_us, payment_id) order, none held yet."""
        index, by_key = self.index, self.events
        for event in events:
            key = event[index]
            if key is not None:
                held = by_key.get(key)
                if held is None:
                    by_key[key] = [event]
                else:
                    held.append(event)

    def add(self, event: Event) -> None:
        key = event[self.index]
        if key is None:
            return
        held = self.events.get(key)
        if held is None:
            self.events[key] = [event]
        else:
            insort(held, event)

    def prune(self, key: str | None, cutoff_us: int) -> None:
        """Drop the key's events before cutoff_us (and the key once it has none)."""
        held = self.events.get(key) if key is not None else None
        if held is None:
            return
        stale = bisect_left(held, (cutoff_us,))
        if stale == len(held):
            del self.events[key]
        elif stale:
            del held[:stale]

    def between(self, key: str, start_us: int, end_us: int) -> list[Event]:
        """The key's events with start_us <= paid_us < end_us."""
        held = self.events.get(key)
        if not held:
            return []
        end = bisect_left(held, (end_us,))
        return held[bisect_left(held, (start_us,), 0, end) : end]


def frame(feature: WindowFeature, paid_us: int) -> tuple[int, int]:
    """[start, end) in microseconds of the feature's RANGE window as of a payment at paid_us:
    `interval <window> preceding and current row` (peers at paid_us included) or `... and interval
    1 microsecond preceding`."""
    end = paid_us + 1 if feature.include_current else paid_us
    return paid_us - feature.window_us, end


def reducer(feature: WindowFeature) -> Reducer:
    """The aggregate over a window's events, with DuckDB's result: count(*) and count(distinct)
    ignore nulls, sum of DECIMAL(14,2) is exact (integer cents), avg of it divides the exact sum in
    long double (DuckDB's IntegerAverageOperationHugeint) before rounding to double, and both are
    null over an empty window."""
    if feature.aggregate == "count":
        return len
    if feature.aggregate == "count_declined":
        return _count_declined
    if feature.aggregate == "sum":
        return _sum_usd
    if feature.aggregate == "avg":
        return _avg_usd
    assert feature.aggregate == "count_distinct" and feature.column is not None
    index = FIELD_INDEX[feature.column]

    def count_distinct(events: list[Event]) -> int:
        return len({event[index] for event in events if event[index] is not None})

    return count_distinct


def _count_declined(events: list[Event]) -> int:
    return sum(1 for event in events if not event[IS_AUTHORIZED])


def _sum_usd(events: list[Event]) -> float | None:
    if not events:
        return None
    return sum(event[CENTS] for event in events) / 100  # exact cents, correctly rounded as DuckDB's cast


def _avg_usd(events: list[Event]) -> float | None:
    if not events:
        return None
    cents = sum(event[CENTS] for event in events)
    return float(np.longdouble(cents) / (np.longdouble(len(events)) * _HUNDRED))
