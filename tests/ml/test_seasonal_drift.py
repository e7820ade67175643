"""Seasonal features: the normal season passes the drift check where the plain PSI fails it, and a
change the history never showed still fails (ml/monitoring/seasonal.py). Guards against the demand
model's check failing after every `make run` on the default world as the holiday peak left the
trailing sums (store_units_28d, PSI 0.70 against the test window)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

from ml.monitoring.drift import measure
from ml.monitoring.reference import build_reference
from ml.monitoring.seasonal import HISTORY, SAME_WEEKS, Period, allowances
from ml.specs import MonitoringSpec

ROWS_PER_DAY = 40
FIRST = date(2024, 1, 1)


def seasonal_world(days: int, peak: float = 20.0, wobble: float = 0.0, seed: int = 5) -> pl.DataFrame:
    """A level with a yearly peak (around day 340 of each 364) and a six-week wobble, times noise,
    ROWS_PER_DAY rows a day; and a steady column."""
    rng = np.random.default_rng(seed)
    day_index = np.repeat(np.arange(days), ROWS_PER_DAY)
    season = (
        100
        + peak * np.exp(-(((day_index % 364) - 340) ** 2) / (2 * 30.0**2))
        + wobble * np.sin(2 * np.pi * day_index / 42)
    )
    return pl.DataFrame(
        {
            "_event_date": [FIRST + timedelta(days=int(d)) for d in day_index],
            "level": season * rng.lognormal(0.0, 0.1, day_index.size),
            "steady": rng.normal(50.0, 5.0, day_index.size),
        }
    )


def layout(world: pl.DataFrame, window_start: date) -> tuple[Period, Period, pl.DataFrame, pl.DataFrame]:
    """The 28-day test window before `window_start` as the reference, and the 14 days after."""
    reference = Period(window_start - timedelta(days=28), window_start - timedelta(days=1))
    window = Period(window_start, window_start + timedelta(days=13))

    def rows(period: Period) -> pl.DataFrame:
        return world.filter(pl.col("_event_date").is_between(period.start, period.end))

    return reference, window, rows(reference), rows(window)


def judged(
    world: pl.DataFrame, window_start: date, monitoring: MonitoringSpec, factor: float = 1.0
) -> dict[str, object]:
    reference_period, window_period, reference_rows, window_rows = layout(world, window_start)
    window_rows = window_rows.with_columns(pl.col("level") * factor)
    reference = build_reference(reference_rows, ("level", "steady"), (), np.zeros(reference_rows.height), 10)
    history = world.filter(pl.col("_event_date") <= reference_period.end)
    allowed = allowances(
        history, ("level",), reference_period, window_period, FIRST, monitoring.bins, monitoring.min_sample
    )
    figures = measure(reference, window_rows, np.zeros(window_rows.height), monitoring, allowed)
    return {figure.feature: figure for figure in figures}


def test_the_season_leaving_the_window_fails_plain_psi_and_passes_against_last_years_same_weeks() -> None:
    world = seasonal_world(days=2 * 364 + 40)
    after_peak = FIRST + timedelta(days=2 * 364 + 14)  # five weeks after the second year's peak
    monitoring = MonitoringSpec()
    figures = judged(world, after_peak, monitoring)
    level = figures["level"]
    assert level.psi >= monitoring.psi_fail  # what the check judged before: a failure
    assert level.allowance_basis == SAME_WEEKS and level.seasonal_allowance >= level.psi
    assert level.status == "ok" and figures["steady"].status == "ok"
    assert figures["steady"].seasonal_allowance is None  # not seasonal: judged as before
    # a change the history never showed (three times the units) still fails
    broken = judged(world, after_peak, monitoring, factor=3.0)["level"]
    assert broken.status == "fail" and broken.judged_psi >= monitoring.psi_fail


def test_without_a_year_of_history_the_allowance_is_what_the_feature_moved_anyway() -> None:
    world = seasonal_world(days=364 + 30, peak=0.0, wobble=10.0)
    window_start = FIRST + timedelta(days=364 + 2)  # last year's same weeks start before the history
    monitoring = MonitoringSpec()
    level = judged(world, window_start, monitoring)["level"]
    assert level.allowance_basis == HISTORY
    assert level.psi >= monitoring.psi_fail and level.status == "ok"
    assert judged(world, window_start, monitoring, factor=3.0)["level"].status == "fail"


def test_no_complete_layout_means_no_allowance() -> None:
    world = seasonal_world(days=60)
    reference, window, _, _ = layout(world, FIRST + timedelta(days=40))
    assert allowances(world, ("level",), reference, window, FIRST + timedelta(days=30), 10, 200) == {}
