"""Metrics on the out-of-time test window, for the model and (regression) the spec's baseline."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    precision_recall_curve,
    roc_auc_score,
)

REPORTED_PRECISION = 0.9  # recall at this precision is always reported, whatever the operating point


def recall_at_precision(labels: np.ndarray, scores: np.ndarray, precision_target: float) -> float:
    precision, recall, _ = precision_recall_curve(labels, scores)
    reachable = recall[precision >= precision_target]
    return float(reachable.max()) if reachable.size else 0.0


def binary_metrics(labels: np.ndarray, scores: np.ndarray, threshold: float | None) -> dict:
    metrics = {
        "auc_pr": float(average_precision_score(labels, scores)),
        "auc_roc": float(roc_auc_score(labels, scores)),
        "log_loss": float(log_loss(labels, np.clip(scores, 1e-15, 1 - 1e-15), labels=[0, 1])),
        "brier": float(brier_score_loss(labels, scores)),
        "positives": int(labels.sum()),
        "rows": int(labels.size),
        "positive_rate": float(labels.mean()),
    }
    metrics["recall_at_precision_90"] = recall_at_precision(labels, scores, REPORTED_PRECISION)
    if threshold is not None:
        flagged = scores >= threshold
        true_positives = int((flagged & (labels == 1)).sum())
        metrics["threshold"] = threshold
        metrics["precision_at_threshold"] = true_positives / max(int(flagged.sum()), 1)
        metrics["recall_at_threshold"] = true_positives / max(int(labels.sum()), 1)
    return metrics


def regression_metrics(actual: np.ndarray, predicted: np.ndarray) -> dict:
    error = predicted - actual
    total = float(np.abs(actual).sum())
    bias = float(error.sum() / total) if total else 0.0
    return {
        "wape": float(np.abs(error).sum() / total) if total else float("nan"),
        "mae": float(np.abs(error).mean()),
        "rmse": float(np.sqrt((error**2).mean())),
        "bias": bias,
        "abs_bias": abs(bias),
        "rows": int(actual.size),
    }
