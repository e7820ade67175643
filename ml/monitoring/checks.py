"""The monitoring checks' names and verdicts: light enough for the Dagster definitions to import
(the measuring code, with scikit-learn, loads only when a pass runs)."""

from __future__ import annotations

from dataclasses import dataclass, field

# asset checks in Dagster and rows of ml.monitoring_verdicts
FEATURE_DRIFT, PREDICTION_DRIFT, MATURED_PERFORMANCE, ESTIMATED_PERFORMANCE, SEGMENT_DISPARITY = (
    "feature_drift",
    "prediction_drift",
    "matured_performance",
    "estimated_performance",
    "segment_disparity",
)


@dataclass(frozen=True)
class Verdict:
    status: str  # ok, warn, fail, or insufficient (nothing to judge yet)
    summary: str
    figures: dict = field(default_factory=dict)
