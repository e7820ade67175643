"""Performance before the labels arrive: confidence-based performance estimation (CBPE).

A calibrated fraud score is the probability that the payment is fraud, so the expected confusion
matrix of a day follows from its scores alone: at the operating threshold t the expected true
positives are the sum of the flagged payments' scores, the expected false positives the sum of their
complements, the expected positives the sum of all scores. Expected precision and recall follow, and
the expected average precision (AUC-PR) is the precision at each rank, weighted by the chance that
the payment at that rank is a positive.

The estimate is only as good as the calibration: a new fraud pattern the model scores low is as
invisible to it as to the model. So every pass also measures the estimator's error on the days
whose labels have since matured, and a pass whose recent error is beyond the spec's bound says the
estimate cannot be trusted rather than passing on it (ml/monitoring/run.py).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from ml.specs import ESTIMATED_METRICS as METRICS


def estimate(scores: np.ndarray, threshold: float | None) -> dict:
    """Expected positives, AUC-PR, and precision and recall at `threshold`, from calibrated scores."""
    p = np.asarray(scores, dtype=np.float64)
    expected_positives = float(p.sum())
    result: dict = {
        "rows": int(p.size),
        "expected_positives": expected_positives,
        "estimated_auc_pr": None,
        "estimated_precision_at_threshold": None,
        "estimated_recall_at_threshold": None,
    }
    if not p.size or expected_positives <= 0:
        return result
    ranked = p[np.argsort(-p, kind="stable")]
    precision_at_rank = np.cumsum(ranked) / np.arange(1, ranked.size + 1)
    result["estimated_auc_pr"] = float(np.sum(precision_at_rank * ranked) / expected_positives)
    if threshold is not None:
        flagged = p >= threshold
        true_positives = float(p[flagged].sum())
        result["estimated_recall_at_threshold"] = true_positives / expected_positives
        if flagged.any():
            result["estimated_precision_at_threshold"] = true_positives / int(flagged.sum())
    return result


def daily_estimates(frame: pl.DataFrame, threshold: float | None) -> list[dict]:
    """One estimate per `_event_date` of `frame` (its `_score`), in date order."""
    return [
        {"event_date": day, **estimate(part["_score"].to_numpy(), threshold)}
        for (day,), part in frame.sort("_event_date").group_by("_event_date", maintain_order=True)
    ]


def estimation_error(estimates: list[dict], realized: list[dict]) -> dict[str, tuple[float, int]]:
    """Per metric, the mean absolute error of the estimates on the days that have realized values,
    and how many days that is."""
    actual = {row["event_date"]: row for row in realized}
    errors: dict[str, tuple[float, int]] = {}
    for metric in METRICS:
        gaps = [
            abs(row[f"estimated_{metric}"] - actual[row["event_date"]][metric])
            for row in estimates
            if row["event_date"] in actual
            and row[f"estimated_{metric}"] is not None
            and actual[row["event_date"]].get(metric) is not None
        ]
        if gaps:
            errors[metric] = (float(np.mean(gaps)), len(gaps))
    return errors
