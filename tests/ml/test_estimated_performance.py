"""Performance estimated from calibrated scores before the labels mature (CBPE,
ml/monitoring/estimated.py): the arithmetic, its accuracy when the calibration holds, and a verdict
that admits it cannot be trusted when the calibration has shifted."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
import yaml

from ml.errors import SpecError
from ml.monitoring.estimated import estimate, estimation_error
from ml.monitoring.performance import binary_performance
from ml.monitoring.run import _estimated_verdict
from ml.specs import SPEC_DIR, parse_spec

THRESHOLD = 0.2


def test_the_expected_confusion_matrix_by_hand() -> None:
    found = estimate(np.array([0.9, 0.5, 0.1]), threshold=0.5)
    assert found["expected_positives"] == pytest.approx(1.5)
    assert found["estimated_precision_at_threshold"] == pytest.approx(1.4 / 2)
    assert found["estimated_recall_at_threshold"] == pytest.approx(1.4 / 1.5)
    # precision at each rank (0.9/1, 1.4/2, 1.5/3), weighted by the chance the rank is a positive
    assert found["estimated_auc_pr"] == pytest.approx((0.9 * 0.9 + 0.7 * 0.5 + 0.5 * 0.1) / 1.5)
    assert estimate(np.zeros(3), 0.5)["estimated_auc_pr"] is None


def calibrated(rows: int, seed: int, lift: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Scores, and labels drawn with probability `lift` times the score (1: calibrated)."""
    rng = np.random.default_rng(seed)
    scores = rng.beta(0.4, 12.0, rows)
    labels = (rng.random(rows) < np.minimum(scores * lift, 1.0)).astype(np.int64)
    return scores, labels


def test_on_calibrated_scores_the_estimate_matches_what_the_labels_show() -> None:
    scores, labels = calibrated(200_000, seed=3)
    found, realized = estimate(scores, THRESHOLD), binary_performance(labels, scores, THRESHOLD)
    for metric in ("auc_pr", "precision_at_threshold", "recall_at_threshold"):
        assert found[f"estimated_{metric}"] == pytest.approx(realized[metric], abs=0.01), metric
    assert found["expected_positives"] == pytest.approx(labels.sum(), rel=0.02)


def days(scores: np.ndarray, labels: np.ndarray | None, first: date, count: int) -> pl.DataFrame:
    day_of_row = np.arange(scores.size) % count
    return pl.DataFrame(
        {
            "_event_date": [first + timedelta(days=int(d)) for d in day_of_row],
            "_score": scores,
            "_label": labels if labels is not None else np.full(scores.size, None),
        }
    )


def fraud_spec(**monitoring):
    data = yaml.safe_load((SPEC_DIR / "payment_fraud.yml").read_text())
    data["monitoring"].update(monitoring)
    return parse_spec(data, "payment_fraud.yml")


def test_the_verdict_judges_the_estimate_and_admits_when_the_calibration_has_shifted() -> None:
    spec = fraud_spec(estimated_floors={"auc_pr": 0.1}, estimation_tolerance=0.1)
    pending = days(*calibrated(30_000, seed=5)[:1], None, date(2025, 3, 1), 14)
    matured_scores, matured_labels = calibrated(30_000, seed=6)
    matured = days(matured_scores, matured_labels, date(2025, 1, 1), 14)
    verdict = _estimated_verdict(spec, pending, matured, THRESHOLD)
    assert verdict.status == "ok", verdict.summary
    assert "14 days awaiting labels" in verdict.summary and "off by at most" in verdict.summary
    # the same scores, judged against a floor they miss
    strict = fraud_spec(estimated_floors={"auc_pr": 0.5})
    failed = _estimated_verdict(strict, pending, matured, THRESHOLD)
    assert failed.status == "fail" and "auc_pr" in failed.summary and "below floor 0.5" in failed.summary
    # fraud the scores no longer see (twice as much as they say): the estimate is not trusted
    shifted = days(*calibrated(30_000, seed=6, lift=2.0), date(2025, 1, 1), 14)
    untrusted = _estimated_verdict(strict, pending, shifted, THRESHOLD)
    assert untrusted.status == "warn" and "not to be trusted" in untrusted.summary
    assert _estimated_verdict(spec, pending.clear(), matured, THRESHOLD).status == "insufficient"


def test_the_estimators_error_is_measured_per_matured_day() -> None:
    estimates = [
        {"event_date": date(2025, 1, d), "estimated_auc_pr": 0.5, "estimated_precision_at_threshold": None,
         "estimated_recall_at_threshold": 0.8}
        for d in (1, 2, 3)
    ]  # fmt: skip
    realized = [
        {"event_date": date(2025, 1, 1), "auc_pr": 0.7, "recall_at_threshold": 0.8},
        {"event_date": date(2025, 1, 2), "auc_pr": 0.4, "recall_at_threshold": None},
    ]
    errors = estimation_error(estimates, realized)
    assert errors["auc_pr"] == (pytest.approx(0.15), 2)
    assert errors["recall_at_threshold"] == (pytest.approx(0.0), 1)
    assert "precision_at_threshold" not in errors


@pytest.mark.parametrize(
    ("spec_file", "floors", "message"),
    [
        ("daily_demand.yml", {"wape": 0.5}, "a regression has none"),
        ("payment_fraud.yml", {"brier": 0.1}, "'brier': a binary model's estimate has"),
        ("payment_fraud.yml", {"auc_pr": 2}, r"estimated_floors.auc_pr: expected a number in \[0, 1\]"),
    ],
)
def test_bad_estimated_floors_name_the_field(spec_file: str, floors: dict, message: str) -> None:
    data = yaml.safe_load((SPEC_DIR / spec_file).read_text())
    data["monitoring"]["estimated_floors"] = floors
    with pytest.raises(SpecError, match=message):
        parse_spec(data, spec_file)
