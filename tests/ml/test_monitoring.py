"""Monitoring on the default world: the tables a pass writes, a drift the checks catch, and the
retraining it triggers through the Dagster sensor, kept in the alias history."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml

from ml.monitoring.run import monitor
from ml.monitoring.triggers import decide
from ml.settings import RETAIL
from ml.specs import SPEC_DIR, load_specs, specs_of
from orchestration.defs.publish.publishing import publish
from tests.trained import TrainedWarehouse

pytestmark = pytest.mark.slow
NOW = datetime(2026, 11, 1)


def test_a_pass_writes_drift_and_matured_performance(
    trained_warehouse: TrainedWarehouse, tmp_path: Path
) -> None:
    env = trained_warehouse.copy_to(tmp_path)
    specs = specs_of(load_specs(), (RETAIL,))  # the trained world is retail's
    with duckdb.connect(str(env.database)) as con:
        fraud = monitor(con, specs["payment_fraud"], env.models_dir, NOW)
        demand = monitor(con, specs["daily_demand"], env.models_dir, NOW)
        fraud_cutoff = con.sql(
            "select training_cutoff from ml.model_registry where model_name = 'payment_fraud'"
        ).fetchone()[0]
        drift = con.sql(
            "select model_name, count(distinct feature), min(sample_size), min(reference_size), "
            "count(distinct window_start) from ml.drift_metrics group by 1 order by 1"
        ).fetchall()
        days = con.sql(
            "select model_name, count(*), min(event_date), max(event_date), count(auc_pr), count(wape) "
            "from ml.model_performance_daily group by 1 order by 1"
        ).fetchall()
        verdicts = con.sql("select count(*) from ml.monitoring_verdicts").fetchone()[0]
        segment_days = con.sql(
            "select model_name, count(distinct event_date) from ml.segment_performance "
            "where scope = 'matured' group by 1 order by 1"
        ).fetchall()
        estimated = con.sql(
            "select model_name, count(*), count(estimated_auc_pr), min(event_date) "
            "from ml.estimated_performance_daily group by 1"
        ).fetchall()
        count = "select count(*) from ml.drift_metrics"
        before = con.sql(count).fetchone()[0]
        monitor(
            con, specs["payment_fraud"], env.models_dir, NOW
        )  # a rerun replaces its version's rows, never adds
        after = con.sql(count).fetchone()[0]
        verdicts_after = con.sql("select count(*) from ml.monitoring_verdicts").fetchone()[0]
    # every feature and the prediction, per scored day after the fraud cutoff / per forecast window
    spec_features = {name: len(spec.features.names) + 1 for name, spec in specs.items()}
    assert [(name, n) for name, n, *_ in drift] == sorted(spec_features.items())
    assert all(sample > 0 and base > 0 for _, _, sample, base, _ in drift)
    assert drift[0][4] == 1 and drift[1][4] == fraud.windows >= 28
    assert fraud.latest_window is not None and fraud.latest_window[0] > fraud_cutoff.date()
    # demand labels are final at once (14 forecast days); fraud ones 90 days after the event
    (_, demand_days, *_, demand_wape), (_, fraud_days, _, _, fraud_auc, _) = days
    assert demand_days == demand.performance_days == 14 and demand_wape == 14
    assert fraud_days == fraud.performance_days > 0 and fraud_auc > 0
    assert (fraud.as_of - datetime.combine(days[1][3], datetime.min.time())).days >= 90
    assert demand.performance.status == "ok" and fraud.performance.status == "ok"
    assert verdicts == verdicts_after == 10 and before == after > 0  # five checks, two models
    # estimated performance: every out-of-sample scored day of the fraud model, labels final or not;
    # a regression has none, and its check says why
    # each matured day's segments, beside the test window's from training
    assert segment_days == [("daily_demand", 14), ("payment_fraud", fraud.performance_days)]
    assert demand.segments.status in ("ok", "warn", "insufficient") and fraud.segments.summary
    [(name, estimated_days, with_auc, first_estimated)] = estimated
    assert name == "payment_fraud" and estimated_days > fraud.performance_days and with_auc > 0
    assert first_estimated == days[1][2]  # from the first out-of-sample day, as matured performance
    assert demand.estimated.status == "insufficient" and fraud.estimated.status in ("ok", "warn")
    assert set(fraud.estimation_error) == {"auc_pr", "precision_at_threshold", "recall_at_threshold"}
    # the present is the latest event with a known outcome, as training saw it: right after training,
    # nothing has moved, so no failing check would retrain before the cooldown
    with duckdb.connect(str(env.database), read_only=True) as con:
        labelled = con.sql(
            "select max(forecast_date) from features.feat_daily_demand where units_sold is not null"
        ).fetchone()[0]
        decisions = {name: decide(con, spec) for name, spec in specs.items()}
    assert demand.as_of.date() == labelled
    assert not any(decision.retrain for decision in decisions.values()), decisions


def test_drift_fails_the_check_and_the_sensor_retrains_once_the_cooldown_passed(
    trained_warehouse: TrainedWarehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestration.defs.automation import retrain_on_monitoring
    from orchestration.defs.ml.assets import RETRAIN_REASON_TAG

    env = trained_warehouse.copy_to(tmp_path / "build")
    spec = load_specs()["payment_fraud"]
    with duckdb.connect(str(env.database)) as con:
        cutoff = con.sql(
            "select training_cutoff from ml.model_registry where model_name = 'payment_fraud'"
        ).fetchone()[0]
        # a new pattern after the cutoff: every payment from a country the model never saw
        con.execute("update features.feat_payment_fraud set ip_country = 'ZZ' where paid_at > ?", [cutoff])
        result = monitor(con, spec, env.models_dir, NOW)
        assert result.feature_drift.status == "fail" and result.feature_drift.summary.startswith("ip_country")
        # the champion was trained on these very data: the cooldown holds the retraining back
        held = decide(con, spec)
        assert not held.retrain and "moved 0.0 days" in held.waiting[0] and "cooldown 7" in held.waiting[0]
        eager = replace(spec, monitoring=replace(spec.monitoring, retrain_cooldown_days=0))
        decision = decide(con, eager)
        assert decision.retrain and "feature_drift failed on v1: ip_country" in decision.reasons[0]

    # the sensor reads the published snapshot and the specs; this spec has no cooldown (so its
    # content changed too: both reasons are given)
    specs_dir = tmp_path / "specs"
    specs_dir.mkdir()
    for name in ("daily_demand", "payment_fraud"):
        data = yaml.safe_load((SPEC_DIR / f"{name}.yml").read_text())
        if name == "payment_fraud":
            data["monitoring"]["retrain_cooldown_days"] = 0
        (specs_dir / f"{name}.yml").write_text(yaml.safe_dump(data, sort_keys=False))
    snapshot = tmp_path / "analytics.duckdb"
    publish(env.database, snapshot)
    monkeypatch.setenv("MODEL_SPECS_DIR", str(specs_dir))
    monkeypatch.setenv("ANALYTICS_DB", str(snapshot))
    monkeypatch.setenv("LANDING_DIR", str(env.landing_dir))
    tick = retrain_on_monitoring(dg.build_sensor_context(instance=dg.DagsterInstance.ephemeral()))
    assert isinstance(tick, dg.SensorResult)
    (request,) = tick.run_requests
    assert request.job_name == "retrain_payment_fraud" and request.partition_key is not None
    reasons = request.tags[RETRAIN_REASON_TAG]
    assert reasons.startswith("spec changed") and "feature_drift failed on v1: ip_country" in reasons
    assert request.run_key.startswith("payment_fraud:v1:spec-") and "feature_drift-" in request.run_key

    # the run asks for a training with that reason; the spec's change is to monitoring only, so the
    # spec, the training rows and the code are v1's: nothing is trained, and the alias history
    # keeps the request and why (a changed input trains, and the gate decides: tests/ml/test_pipeline.py)
    from ml.training.run import run_training

    with duckdb.connect(str(env.database)) as con:
        trained = run_training(con, spec, env.models_dir, NOW, trigger=reasons)
        history = con.sql(
            "select action, reason from ml.model_alias_history where model_name = 'payment_fraud' "
            "and version = ? and reason like '%(retrained: %'",
            params=[trained.version],
        ).fetchall()
    assert not trained.retrained and trained.version == 1
    ((action, reason),) = history
    assert action == "kept" and "(retrained: spec changed" in reason
    assert "feature_drift failed on v1" in reason
