"""Bias across segments (ml/segments.py): a segment the model treats unequally is refused
by the promotion gate, the same model treating everyone alike is not, and the spec is checked."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import yaml

from ml.errors import SpecError
from ml.segments import Disparity, band_labels, measure
from ml.specs import SPEC_DIR, parse_spec
from ml.training.gates import evaluate_gates

THRESHOLD = 0.5
ROWS = 3_000


def fraud_spec(**fairness):
    data = yaml.safe_load((SPEC_DIR / "payment_fraud.yml").read_text())
    data["fairness"] = {"segments": ["channel"], "metrics": ["false_positive_rate"], **fairness}
    return parse_spec(data, "payment_fraud.yml")


def planted(web_false_alarms: float, seed: int = 1) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
    """Three channels with the same fraud; legitimate `web` payments are flagged at
    `web_false_alarms`, the others' at 4%; every fraud is flagged."""
    rng = np.random.default_rng(seed)
    channel = np.repeat(["web", "app", "in_store"], ROWS)
    labels = (rng.random(channel.size) < 0.02).astype(np.int64)
    alarm = np.where(channel == "web", web_false_alarms, 0.04)
    flagged = (labels == 1) | (rng.random(channel.size) < alarm)
    scores = np.where(flagged, 0.9, 0.1)
    return pl.DataFrame({"channel": channel.tolist()}), labels, scores


def test_a_segment_the_model_treats_unequally_is_refused_by_the_gate() -> None:
    spec = fraud_spec(max_disparity=2.0)
    metrics = {"auc_pr": 0.9, "auc_roc": 0.99}
    frame, labels, scores = planted(web_false_alarms=0.20)
    rows, worst = measure(spec, frame, labels, scores, THRESHOLD)
    web = next(r for r in rows if r["segment_value"] == "web")
    assert web["false_positive_rate"] == pytest.approx(0.20, abs=0.02) and web["recall"] == 1.0
    assert worst.column == "channel" and worst.segment == "web" and worst.value > 2.0
    gate = evaluate_gates(spec, metrics, None, worst)
    assert not gate.passed
    assert "fairness: false_positive_rate of channel=web" in gate.summary and "(limit 2.0)" in gate.summary
    # the same model treating every channel alike passes
    frame, labels, scores = planted(web_false_alarms=0.04)
    _, even = measure(spec, frame, labels, scores, THRESHOLD)
    assert even.value < 1.3 and evaluate_gates(spec, metrics, None, even).passed


def test_a_version_more_unequal_than_the_champion_by_more_than_the_margin_is_refused() -> None:
    spec = fraud_spec(max_disparity=10.0, champion_margin=0.25)
    metrics = {"auc_pr": 0.9, "auc_roc": 0.99}
    champion = Disparity(1.2, "channel", "web", "false_positive_rate")
    worse = Disparity(1.6, "channel", "web", "false_positive_rate")  # 33% worse
    refused = evaluate_gates(spec, metrics, metrics, worse, champion)
    assert not refused.passed and "worse than the champion's worst 1.20x by more than 25%" in refused.summary
    assert evaluate_gates(spec, metrics, metrics, Disparity(1.4, "channel", "web", "fpr"), champion).passed


def test_a_segment_under_min_rows_is_reported_not_judged() -> None:
    spec = fraud_spec(max_disparity=2.0, min_rows=ROWS + 1)
    rows, worst = measure(spec, *planted(web_false_alarms=0.20), THRESHOLD)
    assert worst is None and len(rows) == 3 and not any(r["is_judged"] for r in rows)


def test_bands_cut_a_numeric_feature() -> None:
    labels = band_labels(pl.Series("age", [0.0, 29.9, 30.0, 364.0, 365.0, None]), (30.0, 365.0))
    assert labels.to_list() == ["<30", "<30", "30..365", "30..365", ">=365", "(missing)"]


@pytest.mark.parametrize(
    ("fairness", "message"),
    [
        ({"segments": ["no_such_column"]}, "fairness.segments: not features of this model"),
        ({"bands": {"channel": [1]}}, "'channel' is not a numeric feature"),
        ({"bands": {"account_age_days": [365, 30]}}, "edges must increase"),
        ({"metrics": ["wape"]}, r"\['wape'\]: a binary model has"),
        ({"max_disparity": 1}, "fairness.max_disparity: expected a number above 1"),
    ],
)
def test_a_bad_fairness_section_names_the_field(fairness: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        fraud_spec(**fairness)


def test_monitoring_warns_when_a_segment_drifts_apart_on_matured_days() -> None:
    from datetime import date, timedelta

    from ml.monitoring.run import _segment_verdict

    spec = fraud_spec(max_disparity=2.0, min_rows=300)

    def matured(web_false_alarms: float) -> pl.DataFrame:
        frame, labels, scores = planted(web_false_alarms)
        days = [date(2025, 3, 1) + timedelta(days=i % 14) for i in range(labels.size)]
        return frame.with_columns(
            pl.Series("_event_date", days), pl.Series("_label", labels), pl.Series("_score", scores)
        )

    verdict, rows = _segment_verdict(spec, matured(0.20), THRESHOLD)
    assert verdict.status == "warn" and "channel=web" in verdict.summary
    assert "over the limit 2.0" in verdict.summary
    assert {row["event_date"] for row in rows} == {date(2025, 3, 1) + timedelta(days=i) for i in range(14)}
    assert _segment_verdict(spec, matured(0.04), THRESHOLD)[0].status == "ok"
