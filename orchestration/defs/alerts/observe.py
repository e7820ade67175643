"""What the alert sensor looks at each tick: each job's latest finished run, each asset check's
latest evaluation (Dagster's run and event storage), and each model's latest promotion decision
(the published snapshot's alias history, read-only, as the retraining sensor reads it)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import dagster as dg
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from ml.duckdb_limits import connect
from ml.monitoring.checks import ESTIMATED_PERFORMANCE, FEATURE_DRIFT, MATURED_PERFORMANCE, PREDICTION_DRIFT
from orchestration.defs.alerts.incidents import Incident, Observation
from orchestration.defs.dbt.checks import FRESHNESS_CHECK

FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE]
# what a failed check means; a failed warning alerts only where it names a stale source
CHECK_KINDS = {
    FEATURE_DRIFT: "drift",
    PREDICTION_DRIFT: "drift",
    MATURED_PERFORMANCE: "performance",
    ESTIMATED_PERFORMANCE: "performance",
    FRESHNESS_CHECK: "stale_source",
}
DETAIL_CHARS = 500


def runs(instance: dg.DagsterInstance, job_names: Iterable[str], ui_url: str) -> Observation:
    """A job whose latest finished run failed is one incident until a run of it succeeds (a retry
    or a rerun that fails again is the same incident)."""
    seen, failing = set(), []
    for job in sorted(job_names):
        latest = instance.get_runs(dg.RunsFilter(job_name=job, statuses=FINISHED), limit=1)
        if not latest:
            continue
        run, key = latest[0], f"run:{job}"
        seen.add(key)
        if run.status == dg.DagsterRunStatus.FAILURE:
            partition = run.tags.get("dagster/partition")
            failing.append(
                Incident(
                    key,
                    "run_failed",
                    f"Run of {job}{f' for {partition}' if partition else ''} failed",
                    failure_message(instance, run.run_id),
                    f"{ui_url}/runs/{run.run_id}",
                )
            )
    return Observation(frozenset(seen), tuple(failing))


def failure_message(instance: dg.DagsterInstance, run_id: str) -> str:
    failures = instance.all_logs(
        run_id, of_type={dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE}
    )
    for entry in failures:  # the first failed step says what broke; the run's failure, that it did
        event = entry.dagster_event
        if event is not None and event.is_step_failure:
            error = event.step_failure_data.error
            while error is not None and error.cause is not None:  # Dagster's wrapper, then the user's
                error = error.cause
            message = error.message.strip() if error is not None else "failed"
            return f"step {event.step_key}: {message}"[:DETAIL_CHARS]
    return (failures[-1].message if failures else "the run failed")[:DETAIL_CHARS]


def checks(instance: dg.DagsterInstance, check_keys: Iterable[dg.AssetCheckKey], ui_url: str) -> Observation:
    """A check whose latest evaluation failed with error severity, or a failed landing freshness
    check (a stale source), is one incident until an evaluation passes. A check being evaluated
    now is not looked at until it has a result."""
    records = instance.event_log_storage.get_latest_asset_check_execution_by_key(list(check_keys))
    seen, failing = set(), []
    for check_key, record in sorted(records.items(), key=lambda item: item[0].to_user_string()):
        if record.status == AssetCheckExecutionRecordStatus.PLANNED:
            continue
        asset = check_key.asset_key.to_user_string()
        key = f"check:{asset}:{check_key.name}"
        seen.add(key)
        evaluation = record.event.dagster_event.asset_check_evaluation_data if record.event else None
        if record.status != AssetCheckExecutionRecordStatus.FAILED or evaluation is None:
            continue
        kind = CHECK_KINDS.get(check_key.name, "check_failed")
        if evaluation.severity != dg.AssetCheckSeverity.ERROR and kind != "stale_source":
            continue
        failing.append(
            Incident(
                key,
                kind,
                f"Check {check_key.name} failed on {asset}",
                check_detail(evaluation.metadata),
                f"{ui_url}/assets/{'/'.join(check_key.asset_key.path)}?view=checks",
            )
        )
    return Observation(frozenset(seen), tuple(failing))


def check_detail(metadata: dict) -> str:
    values = {name: getattr(entry, "value", entry) for name, entry in metadata.items()}
    if "summary" in values:  # the monitoring checks say it in one sentence
        return str(values["summary"])[:DETAIL_CHARS]
    shown = ", ".join(f"{name}: {value}" for name, value in sorted(values.items()))
    return (shown or "the check failed")[:DETAIL_CHARS]


def promotions(snapshot: Path, ui_url: str) -> Observation:
    """A model whose latest champion decision is a refusal is one incident until a version is
    promoted (or rolled back to). Nothing is seen while there is no published registry."""
    if not snapshot.exists():
        return Observation(frozenset(), ())
    with connect(snapshot, read_only=True) as con:
        has_history = con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'ml' and table_name = 'model_alias_history'"
        ).fetchone()[0]
        if not has_history:
            return Observation(frozenset(), ())
        latest = con.execute(
            "select model_name, version, action, reason from ml.model_alias_history "
            "where alias = 'champion' and action in ('set', 'rollback', 'refused') "
            "qualify row_number() over (partition by model_name order by changed_at desc, version desc) = 1 "
            "order by model_name"
        ).fetchall()
    seen = frozenset(f"promotion:{model}" for model, *_ in latest)
    failing = tuple(
        Incident(
            f"promotion:{model}",
            "promotion_refused",
            f"Promotion of {model} v{version} refused",
            reason[:DETAIL_CHARS],
            f"{ui_url}/assets/ml/{model}_model",
        )
        for model, version, action, reason in latest
        if action == "refused"
    )
    return Observation(seen, failing)
