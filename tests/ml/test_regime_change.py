"""A regime change, end to end: a new fraud pattern appears on day S of a simulated world. Replaying
the weeks after it as the retraining sensor would see them (monitor, decide, retrain, rescore), the
drift is detected within days, retraining is triggered, a new champion is promoted by the gate, and
matured performance, which fell below the spec's floor, recovers.

Replays use `as_of`: every pass sees only the windows, labels and outcomes known by then, so one
dbt build of the whole world serves every week of the replay."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import duckdb
import pytest
import yaml

from ml.monitoring.run import MonitoringResult, monitor
from ml.monitoring.triggers import decide
from ml.scoring.batch import score
from ml.specs import SPEC_DIR, ModelSpec, parse_spec
from ml.training.run import run_training
from simulator.config import FRAUD_PATTERN, RegimeChange
from tests.conftest import DbtEnv, generate_world

pytestmark = pytest.mark.slow

START = date(2025, 1, 1)
CHANGE = START + timedelta(days=100)  # the first day of the new fraud pattern
WORLD = {
    "seed": 11,
    "start": START,
    "days": 230,
    "customers": 4_000,
    "stores": 2,
    "products": 12,
    "payments_per_day": 500,
    "regime_change": RegimeChange(day=CHANGE, kinds=(FRAUD_PATTERN,)),
}
STEP_DAYS = 7  # the replay's cadence: a monitoring pass (and the sensor's decision) per week
DETECTION_BOUND_DAYS = 3
NOW = datetime(2026, 11, 1)


def replay_spec() -> ModelSpec:
    """The production fraud spec on a 230-day world: labels final after 30 days instead of 90
    (about 84% of fraud chargebacks have arrived by then), two-week validation and test windows,
    and a retraining cooldown of two weeks."""
    data = yaml.safe_load((SPEC_DIR / "payment_fraud.yml").read_text())
    data["label"]["maturity_days"] = 30
    data["split"] = {"cutoff_days_before_latest": 0, "validation_days": 14, "test_days": 14}
    data["monitoring"]["retrain_cooldown_days"] = 14
    return parse_spec(data, "payment_fraud.yml")


def end_of(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59))


@dataclass
class Step:
    as_of: date
    result: MonitoringResult
    reasons: tuple[str, ...]
    trained: int | None = None
    promoted: bool = False


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Step], DbtEnv]:
    root = tmp_path_factory.mktemp("regime")
    landing, _oracle = generate_world(root, **WORLD)
    env = DbtEnv(landing_dir=landing, database=root / "warehouse.duckdb", work_dir=root)
    env.dbt("build", "--exclude", "source:ml+")
    spec = replay_spec()
    steps: list[Step] = []
    with duckdb.connect(str(env.database)) as con:
        day = CHANGE - timedelta(days=1)  # the champion in service when the change comes
        first = run_training(con, spec, env.models_dir, NOW, as_of=end_of(day))
        assert first.promoted, first.gate.summary
        score(con, spec, env.models_dir, NOW)
        while day + timedelta(days=STEP_DAYS) <= START + timedelta(days=WORLD["days"] - 1):
            day += timedelta(days=STEP_DAYS)
            # what the sensor sees after the day's run: this pass's verdicts, the registry
            step = Step(day, monitor(con, spec, env.models_dir, NOW, as_of=end_of(day)), ())
            decision = decide(con, spec)
            step.reasons = decision.reasons
            if decision.retrain:
                trained = run_training(
                    con, spec, env.models_dir, NOW, as_of=end_of(day), trigger="; ".join(decision.reasons)
                )
                step.trained, step.promoted = trained.version, trained.promoted
                if trained.promoted:
                    score(con, spec, env.models_dir, NOW)
            steps.append(step)
    for step in steps:
        print(
            f"{step.as_of} v{step.result.model_version}: feature drift {step.result.feature_drift.status}, "
            f"performance {step.result.performance.status}, estimated {step.result.estimated.status}"
            + (
                f" -> trained v{step.trained} ({'promoted' if step.promoted else 'refused'})"
                if step.trained
                else ""
            )
        )
    return steps, env


def query(env: DbtEnv, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(env.database), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def test_drift_is_detected_within_days_of_the_change(replay) -> None:
    _, env = replay
    failing = query(
        env,
        "select window_start, feature, psi, sample_size from ml.drift_metrics "
        "where model_name = 'payment_fraud' and model_version = 1 and status = 'fail' order by 1, psi desc",
    )
    assert failing, "no drift ever failed the check"
    first_day = failing[0][0]
    # the change is caught within the bound, on the column it moved: a merchant category the
    # champion's baseline never saw. (A champion serving since weeks before the change also fails
    # on seasonal drift of the category mix: see docs/monitoring.md.)
    assert first_day >= CHANGE, failing[:3]
    on_first_day = {feature: psi for day, feature, psi, _ in failing if day == first_day}
    assert on_first_day.get("merchant_category_code", 0) > 1.0, on_first_day
    delay = (first_day - CHANGE).days
    print(f"drift detected {delay} day(s) after the change: {failing[0]}")
    assert delay <= DETECTION_BOUND_DAYS


def test_retraining_is_triggered_and_a_new_champion_is_promoted_by_the_gate(replay) -> None:
    steps, env = replay
    triggered = [s for s in steps if s.trained is not None]
    assert triggered, [(s.as_of, s.result.feature_drift.status, s.result.performance.status) for s in steps]
    # the first retraining comes from drift, at the first weekly pass after the cooldown
    assert "drift failed" in triggered[0].reasons[0]
    assert (triggered[0].as_of - CHANGE).days <= DETECTION_BOUND_DAYS + 14 + STEP_DAYS
    history = query(
        env,
        "select version, action, reason from ml.model_alias_history "
        "where model_name = 'payment_fraud' and alias = 'champion' order by changed_at, version",
    )
    promoted_after_change = [
        (version, reason) for version, action, reason in history if action == "set" and version > 1
    ]
    assert promoted_after_change, history
    # a champion that learned the new pattern: trained on labelled rows after the change, and better
    # than the champion it replaced on the same out-of-time window (the gate's comparison)
    learned = query(
        env,
        "select version, train_start, training_cutoff, metrics->>'$.test.auc_pr', "
        "metrics->>'$.champion.auc_pr' from ml.model_registry "
        "where model_name = 'payment_fraud' and training_cutoff - interval 30 day - interval 28 day > ? "
        "and version in (select version from ml.model_alias_history "
        "where alias = 'champion' and action = 'set')",
        [CHANGE],
    )
    assert learned, "no promoted champion was trained on labelled rows after the change"
    version, _, _, new_auc, old_auc = learned[0]
    print(
        f"v{version} promoted: test AUC-PR {float(new_auc):.3f} against the champion's {float(old_auc):.3f}"
    )
    assert float(new_auc) > float(old_auc)
    assert any("(retrained: " in reason for _, reason in promoted_after_change)


def test_matured_performance_falls_below_the_floor_then_recovers(replay) -> None:
    steps, env = replay
    failed = [s for s in steps if s.result.performance.status == "fail"]
    assert failed, [(s.as_of, s.result.performance.summary) for s in steps]
    assert failed[0].as_of > CHANGE
    final = steps[-1].result
    assert final.model_version > 1
    assert final.performance.status == "ok", final.performance.summary
    worst = min(s.result.performance.figures["auc_pr"] for s in failed)
    recovered = final.performance.figures["auc_pr"]
    print(f"matured AUC-PR: worst {worst:.3f} after the change, {recovered:.3f} at the end")
    assert final.performance.figures["auc_pr"] > worst
    # the monitoring tables keep each version's days: the old champion's bad days are history
    per_version = query(
        env,
        "select model_version, count(*) from ml.model_performance_daily "
        "where model_name = 'payment_fraud' group by 1 order by 1",
    )
    assert len(per_version) >= 2


def test_the_estimate_before_labels_admits_the_pattern_it_cannot_see(replay) -> None:
    """The new fraud is scored low, so the estimate from the calibrated scores cannot see it. While
    the matured labels show the champion failing, the estimate is never passed as fine: the check
    warns that it is not to be trusted (or fails)."""
    steps, env = replay
    errors = query(
        env,
        "select model_version, min(event_date), max(event_date), "
        "avg(abs(e.estimated_auc_pr - p.auc_pr)), count(*) "
        "from ml.estimated_performance_daily e "
        "join ml.model_performance_daily p using (model_name, model_version, event_date) "
        "where model_name = 'payment_fraud' and e.estimated_auc_pr is not null and p.auc_pr is not null "
        "group by 1 order by 1",
    )
    for version, first, last, error, count in errors:
        print(f"v{version} estimated AUC-PR, {first}..{last}: MAE {error:.3f} over {count} matured days")
    blind = [s for s in steps if s.result.performance.status == "fail"]
    assert blind, "the labels never showed the champion failing"
    assert all(s.result.estimated.status in ("warn", "fail") for s in blind), [
        (s.as_of, s.result.estimated.summary) for s in blind
    ]
    assert "not to be trusted" in blind[0].result.estimated.summary
