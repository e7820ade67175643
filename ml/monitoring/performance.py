"""Performance per day of events whose labels are final, and pooled over the latest matured days:
AUC-PR, AUC-ROC, Brier, calibration and recall/precision at the operating threshold for a binary
model; WAPE and bias for a regression."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from ml.specs import PERFORMANCE_DIRECTIONS


def binary_performance(labels: np.ndarray, scores: np.ndarray, threshold: float | None) -> dict:
    """A metric that needs both classes is None on a day with only one."""
    rows, positives = int(labels.size), int(labels.sum())
    both = 0 < positives < rows
    flagged = scores >= threshold if threshold is not None else None
    result: dict = {
        "rows": rows,
        "positives": positives,
        "auc_pr": float(average_precision_score(labels, scores)) if both else None,
        "auc_roc": float(roc_auc_score(labels, scores)) if both else None,
        "brier": float(brier_score_loss(labels, scores, labels=[0, 1])) if rows else None,
        "mean_score": float(scores.mean()) if rows else None,
        "positive_rate": positives / rows if rows else None,
        "calibration_ratio": float(scores.mean()) / (positives / rows) if positives else None,
        "operating_threshold": threshold,
        "recall_at_threshold": None,
        "precision_at_threshold": None,
    }
    if flagged is not None and rows:
        hits = int((flagged & (labels == 1)).sum())
        result["recall_at_threshold"] = hits / positives if positives else None
        result["precision_at_threshold"] = hits / int(flagged.sum()) if flagged.any() else None
    return result


def regression_performance(actual: np.ndarray, predicted: np.ndarray) -> dict:
    total = float(np.abs(actual).sum())
    error = predicted - actual
    bias = float(error.sum() / total) if total else None
    return {
        "rows": int(actual.size),
        "actual_total": float(actual.sum()),
        "predicted_total": float(predicted.sum()),
        "wape": float(np.abs(error).sum() / total) if total else None,
        "bias": bias,
        "abs_bias": abs(bias) if bias is not None else None,
    }


def performance(task: str, frame: pl.DataFrame, threshold: float | None) -> dict:
    """`frame` has `_label` and `_score`."""
    labels, scores = frame["_label"].to_numpy(), frame["_score"].to_numpy()
    if task == "binary":
        return binary_performance(labels.astype(np.int64), scores, threshold)
    return regression_performance(labels.astype(np.float64), scores)


def daily(task: str, frame: pl.DataFrame, threshold: float | None) -> list[dict]:
    """One row per `_event_date` of `frame`, in date order."""
    rows = []
    for (day,), part in frame.sort("_event_date").group_by("_event_date", maintain_order=True):
        rows.append({"event_date": day, **performance(task, part, threshold)})
    return rows


def below_floors(task: str, metrics: dict, floors: dict[str, float]) -> list[str]:
    """The floors a pooled window misses, as sentences; a metric that could not be computed is
    not judged (it is reported as such by the caller)."""
    directions = PERFORMANCE_DIRECTIONS[task]
    failures = []
    for metric, floor in floors.items():
        value = metrics.get(metric)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        ok = value >= floor if directions[metric] else value <= floor
        if not ok:
            failures.append(
                f"{metric} {value:.4f} {'below' if directions[metric] else 'above'} floor {floor}"
            )
    return failures
