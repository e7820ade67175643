"""How far a seasonal feature moves on its own: the drift it showed between comparable periods of its
history, which the drift check allows before it judges.

A level that follows the season (a store's units over the trailing 28 days as the holiday peak enters
or leaves the sum) drifts between the champion's test window and a later window without anything
being wrong. For each feature a spec names `seasonal`, the same layout (a period as long as the drift
reference, then one as long as the window, the same days apart) is laid over the history at whole
weeks back, and each pair's PSI is measured as the live one is (the earlier period's quantile bins).
The allowance is:

- the largest PSI of the layouts within three weeks of the same weeks one year (52 weeks) earlier,
  when the history has them complete (after the spec's `seasonal_warmup_days`, the days a trailing
  feature needs): the season comes a few days earlier or later each year, and any of those layouts
  is the same season;
- otherwise the 90th percentile over every complete layout in the history: the movement the feature
  shows in all but its most unusual weeks.

The check then judges only the PSI beyond the allowance (ml/monitoring/drift.py), so the normal
season passes and a change the history never showed still fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl

from ml.monitoring.divergence import psi
from ml.monitoring.reference import numeric_binning
from ml.specs import MonitoringSpec

WEEK = 7
YEAR_DAYS = 52 * WEEK  # whole weeks: the same weekdays a year earlier
SAME_WEEKS_DAYS = 3 * WEEK  # how far around the same weeks last year a layout may lie
HISTORY_QUANTILE = 0.9
SAME_WEEKS, HISTORY = "same_weeks_last_year", "history"


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    def back(self, days: int) -> Period:
        return Period(self.start - timedelta(days=days), self.end - timedelta(days=days))


@dataclass(frozen=True)
class Allowance:
    psi: float
    basis: str  # SAME_WEEKS or HISTORY
    layouts: int  # how many past layouts it rests on


def _rows(history: pl.DataFrame, period: Period) -> pl.DataFrame:
    return history.filter(pl.col("_event_date").is_between(period.start, period.end))


def _layout_psi(reference: pl.Series, window: pl.Series, bins: int) -> float | None:
    binning = numeric_binning(reference.name, reference, bins, "numeric")
    counts = binning.counts(window)
    if binning.reference_size == 0 or counts.sum() == 0:
        return None
    return psi(np.asarray(binning.reference_counts, dtype=np.float64), counts)


def layouts(
    history: pl.DataFrame, reference: Period, window: Period, complete_from: date, min_sample: int
) -> tuple[str, list[tuple[pl.DataFrame, pl.DataFrame]]]:
    """The past layouts (rows of the reference's period, rows of the window's) that lie complete in
    the history with `min_sample` rows on each side: around the same weeks last year if any, else
    every whole week back before the window."""
    if history.is_empty():
        return HISTORY, []
    latest = min(history["_event_date"].max(), reference.end)

    def layout(days: int) -> tuple[pl.DataFrame, pl.DataFrame] | None:
        past_reference, past_window = reference.back(days), window.back(days)
        if past_reference.start < complete_from or past_window.end > latest:
            return None
        rows = _rows(history, past_reference), _rows(history, past_window)
        return rows if min(part.height for part in rows) >= min_sample else None

    around = range(YEAR_DAYS - SAME_WEEKS_DAYS, YEAR_DAYS + SAME_WEEKS_DAYS + 1, WEEK)
    same_weeks = [found for days in around if (found := layout(days)) is not None]
    if same_weeks:
        return SAME_WEEKS, same_weeks
    furthest = (reference.start - complete_from).days
    anywhere = [found for days in range(WEEK, furthest + 1, WEEK) if (found := layout(days)) is not None]
    return HISTORY, anywhere


def allowances(
    history: pl.DataFrame,
    features: tuple[str, ...],
    reference: Period,
    window: Period,
    complete_from: date,
    bins: int,
    min_sample: int,
) -> dict[str, Allowance]:
    """Per seasonal feature, the PSI the history allows between the reference and the window
    (`history`: `_event_date` and the features, every row up to the reference's end). A feature
    without a usable layout gets none, and is judged as any other."""
    basis, past = layouts(history, reference, window, complete_from, min_sample)
    found: dict[str, Allowance] = {}
    for feature in features:
        values = [
            value
            for past_reference, past_window in past
            if (value := _layout_psi(past_reference[feature], past_window[feature], bins)) is not None
        ]
        if values:
            allowed = max(values) if basis == SAME_WEEKS else float(np.quantile(values, HISTORY_QUANTILE))
            found[feature] = Allowance(allowed, basis, len(values))
    return found


@dataclass(frozen=True)
class SeasonalHistory:
    """A model's seasonal features up to the end of its drift reference, read once per pass."""

    history: pl.DataFrame
    reference: Period
    complete_from: date
    monitoring: MonitoringSpec

    def allowances(self, window: Period) -> dict[str, Allowance]:
        monitoring = self.monitoring
        return allowances(
            self.history,
            monitoring.seasonal,
            self.reference,
            window,
            self.complete_from,
            monitoring.bins,
            monitoring.min_sample,
        )
