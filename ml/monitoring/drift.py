"""Drift of one scored window against a model version's drift reference: PSI and Jensen-Shannon per
feature and for the model's output, each with the sample size it rests on. A seasonal feature is
judged on its PSI beyond the allowance its own history gives it (ml/monitoring/seasonal.py)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import polars as pl

from ml.monitoring.divergence import jensen_shannon, psi
from ml.monitoring.reference import PREDICTION, DriftReference
from ml.monitoring.seasonal import Allowance
from ml.specs import MonitoringSpec


@dataclass(frozen=True)
class DriftFigure:
    feature: str
    feature_kind: str  # numeric, categorical or prediction
    psi: float
    js_divergence: float
    sample_size: int
    reference_size: int
    status: str
    seasonal_allowance: float | None = None  # the PSI the feature's history allows, if seasonal
    allowance_basis: str | None = None  # same_weeks_last_year or history

    @property
    def judged_psi(self) -> float:
        """The PSI the status rests on: beyond the seasonal allowance, if any."""
        return max(self.psi - (self.seasonal_allowance or 0.0), 0.0)


def judge(value: float, sample_size: int, monitoring: MonitoringSpec) -> str:
    if sample_size < monitoring.min_sample:
        return "insufficient"
    if value >= monitoring.psi_fail:
        return "fail"
    if value >= monitoring.psi_warn:
        return "warn"
    return "ok"


def measure(
    reference: DriftReference,
    frame: pl.DataFrame,
    predictions: np.ndarray,
    monitoring: MonitoringSpec,
    allowances: dict[str, Allowance] | None = None,
) -> list[DriftFigure]:
    """One figure per reference column present in `frame` (features) plus the prediction."""
    allowances = allowances or {}
    figures: list[DriftFigure] = []
    for name, binning in reference.binnings.items():
        if name == PREDICTION:
            values = pl.Series(PREDICTION, predictions)
        elif name in frame.columns:
            values = frame[name]
        else:
            continue
        counts = binning.counts(values)
        expected = np.asarray(binning.reference_counts, dtype=np.float64)
        size = int(counts.sum())
        if size == 0 or binning.reference_size == 0:
            continue
        value, divergence = psi(expected, counts), jensen_shannon(expected, counts)
        allowance = allowances.get(name)
        figure = DriftFigure(
            name,
            binning.kind,
            value,
            divergence,
            size,
            binning.reference_size,
            "",
            allowance.psi if allowance else None,
            allowance.basis if allowance else None,
        )
        status = "excluded" if name in monitoring.exclude else judge(figure.judged_psi, size, monitoring)
        figures.append(replace(figure, status=status))
    return figures
