"""Drift of one scored window against a model version's drift reference: PSI and Jensen-Shannon per
feature and for the model's output, each with the sample size it rests on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from ml.monitoring.divergence import jensen_shannon, psi
from ml.monitoring.reference import PREDICTION, DriftReference
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


def judge(value: float, sample_size: int, monitoring: MonitoringSpec) -> str:
    if sample_size < monitoring.min_sample:
        return "insufficient"
    if value >= monitoring.psi_fail:
        return "fail"
    if value >= monitoring.psi_warn:
        return "warn"
    return "ok"


def measure(
    reference: DriftReference, frame: pl.DataFrame, predictions: np.ndarray, monitoring: MonitoringSpec
) -> list[DriftFigure]:
    """One figure per reference column present in `frame` (features) plus the prediction."""
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
        status = "excluded" if name in monitoring.exclude else judge(value, size, monitoring)
        figures.append(
            DriftFigure(name, binning.kind, value, divergence, size, binning.reference_size, status)
        )
    return figures
