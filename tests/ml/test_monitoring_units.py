"""Drift arithmetic, baseline binning and the monitoring section of a spec, without a warehouse."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
import yaml

from ml.errors import SpecError
from ml.monitoring.divergence import jensen_shannon, psi
from ml.monitoring.drift import judge, measure
from ml.monitoring.performance import below_floors, binary_performance
from ml.monitoring.reference import (
    OTHER,
    DriftReference,
    build_reference,
    categorical_binning,
    numeric_binning,
)
from ml.specs import SPEC_DIR, MonitoringSpec, parse_spec


def test_psi_is_zero_for_the_same_shares_and_matches_the_formula() -> None:
    assert psi(np.array([10, 20, 70]), np.array([1, 2, 7])) == pytest.approx(0.0)
    expected, actual = np.array([0.5, 0.5]), np.array([0.9, 0.1])
    by_hand = (0.9 - 0.5) * math.log(0.9 / 0.5) + (0.1 - 0.5) * math.log(0.1 / 0.5)
    assert psi(expected, actual) == pytest.approx(by_hand)
    # an empty bin on one side is floored, not infinite
    assert math.isfinite(psi(np.array([1, 0]), np.array([0, 1])))


def test_jensen_shannon_is_bounded_by_one_bit() -> None:
    assert jensen_shannon(np.array([1, 1]), np.array([1, 1])) == pytest.approx(0.0)
    assert jensen_shannon(np.array([1, 0]), np.array([0, 1])) == pytest.approx(1.0)
    assert 0 < jensen_shannon(np.array([3, 1]), np.array([1, 3])) < 1


def test_numeric_bins_hold_every_value_once_with_missing_apart() -> None:
    values = pl.Series("x", [float(v) for v in range(100)] + [None, float("nan")])
    binning = numeric_binning("x", values, bins=4, kind="numeric")
    assert binning.edges == (24.0, 49.0, 74.0)
    assert binning.reference_counts == (25, 25, 25, 25, 2)
    # values outside the baseline's range fall in the end bins
    assert binning.counts(pl.Series("x", [-5.0, 1000.0, None])).tolist() == [1, 0, 0, 1, 1]


def test_categorical_bins_pool_unseen_values() -> None:
    binning = categorical_binning("c", pl.Series("c", ["a", "b", "b", None]))
    assert binning.categories == ("a", "b")
    counts = binning.counts(pl.Series("c", ["a", "zz", "zz", None]))
    assert counts.tolist() == [1, 0, 2, 1]  # a, b, OTHER, missing
    assert OTHER == "__other__"


def test_a_new_category_fails_the_drift_check_and_the_same_data_passes() -> None:
    rng = np.random.default_rng(7)
    frame = pl.DataFrame(
        {"amount": rng.gamma(2.0, 30.0, 5_000), "country": rng.choice(["US", "GB", "DE"], 5_000).tolist()}
    )
    reference = build_reference(frame, ("amount",), ("country",), rng.random(5_000), bins=10)
    reference = DriftReference.from_json(reference.to_json())  # what is stored is what is read
    monitoring = MonitoringSpec()
    same = measure(reference, frame, rng.random(5_000), monitoring)
    assert {f.feature: f.status for f in same} == {"amount": "ok", "country": "ok", "__prediction__": "ok"}
    shifted = frame.with_columns(pl.lit("ZZ").alias("country"))
    figures = {f.feature: f for f in measure(reference, shifted, rng.random(5_000), monitoring)}
    assert figures["country"].status == "fail" and figures["country"].psi > 0.25
    assert figures["country"].sample_size == 5_000 and figures["country"].reference_size == 5_000


def test_judge_uses_the_spec_thresholds_and_sample_size() -> None:
    spec = MonitoringSpec(psi_warn=0.1, psi_fail=0.25, min_sample=100)
    assert [judge(v, 500, spec) for v in (0.05, 0.1, 0.2, 0.25)] == ["ok", "warn", "warn", "fail"]
    assert judge(3.0, 99, spec) == "insufficient"


def test_binary_performance_and_floors() -> None:
    labels = np.array([0, 0, 1, 1, 0, 1])
    scores = np.array([0.1, 0.2, 0.9, 0.8, 0.7, 0.3])
    metrics = binary_performance(labels, scores, threshold=0.5)
    assert metrics["positives"] == 3 and metrics["recall_at_threshold"] == pytest.approx(2 / 3)
    assert metrics["precision_at_threshold"] == pytest.approx(2 / 3)
    assert below_floors("binary", metrics, {"recall_at_threshold": 0.9}) == [
        "recall_at_threshold 0.6667 below floor 0.9"
    ]
    # a day with one class has no AUC, and is not judged on it
    one_class = binary_performance(np.array([0, 0]), np.array([0.1, 0.2]), 0.5)
    assert one_class["auc_pr"] is None and below_floors("binary", one_class, {"auc_pr": 0.5}) == []


def _fraud_spec(**monitoring) -> dict:
    data = yaml.safe_load((SPEC_DIR / "payment_fraud.yml").read_text())
    data["monitoring"] = monitoring
    return data


@pytest.mark.parametrize(
    ("monitoring", "message"),
    [
        ({"psi_warn": 0.3, "psi_fail": 0.2}, "monitoring.psi_fail: must be >= psi_warn"),
        ({"exclude": ["no_such_feature"]}, "monitoring.exclude: not features of this model"),
        ({"performance_floors": {"wape": 0.5}}, "unknown metric 'wape' for task binary"),
        ({"psi_warn": "high"}, "monitoring.psi_warn: expected a number"),
        ({"seasonal": ["ip_country"]}, r"monitoring.seasonal: not numeric features of this model"),
        ({"seasonal_warmup_days": -1}, "monitoring.seasonal_warmup_days: expected an integer >= 0"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_a_bad_monitoring_section_names_the_field(monitoring: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse_spec(_fraud_spec(**monitoring), "payment_fraud.yml")


def test_the_floors_default_to_the_gate_floors_the_monitoring_knows() -> None:
    spec = parse_spec(_fraud_spec(), "payment_fraud.yml")
    assert spec.monitoring.performance_floors == {"auc_pr": 0.5, "auc_roc": 0.9}


def test_a_reference_stored_before_the_rename_is_read(tmp_path) -> None:
    """Versions trained before the drift reference had its name stored `baseline.json`, format 1."""
    import json

    from ml.monitoring.run import load_reference
    from ml.monitoring.tables import ensure_tables

    rng = np.random.default_rng(3)
    frame = pl.DataFrame({"amount": rng.gamma(2.0, 30.0, 500)})
    current = build_reference(frame, ("amount",), (), rng.random(500), bins=5).to_json()
    legacy = {
        "format_version": 1,
        "columns": [
            {
                **{k: v for k, v in c.items() if k != "reference_counts"},
                "baseline_counts": c["reference_counts"],
            }
            for c in current["columns"]
        ],
    }
    (tmp_path / "baseline.json").write_text(json.dumps(legacy))
    assert load_reference(tmp_path).to_json() == current
    # and the drift table of such a warehouse gets the column's new name in place, rows kept
    import duckdb

    with duckdb.connect() as con:
        ensure_tables(con)
        con.execute("alter table ml.drift_metrics rename column reference_size to baseline_size")
        ensure_tables(con)
        columns = {row[0] for row in con.execute("describe ml.drift_metrics").fetchall()}
    assert "reference_size" in columns and "baseline_size" not in columns
