"""Jobs, schedules and the landing sensor. Selections are by group, never long lists of keys.

The jobs hold assets partitioned by landing day (landing, fct_payments, fraud scores) next to
unpartitioned ones (the rest of the warehouse, training, publish), so every run names its landing day
or range of days: the schedules pick yesterday, the sensor the days that just arrived, `make run` all
of them. Whoever names a day registers the landing days present first (orchestration/lib/partitions.py).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import dagster as dg

from ml.duckdb_limits import connect
from ml.specs import ModelSpec
from orchestration.defs.domains import running_specs
from orchestration.defs.ml.assets import RETRAIN_REASON_TAG, model_key
from orchestration.lib.environment import analytics_db
from orchestration.lib.landing import all_landing_days
from orchestration.lib.partitions import range_tags, register_landing_days

EVERYTHING = dg.AssetSelection.all()
TRAINING = dg.AssetSelection.groups("ml") & dg.AssetSelection.kind("lightgbm")

# One run writes the DuckDB file at a time; within a run, steps go one after another.
full_pipeline = dg.define_asset_job(
    "full_pipeline",
    selection=EVERYTHING,
    description="Ingest, build, train (gated), score, rebuild the marts on the scores, publish.",
    executor_def=dg.in_process_executor,
)
daily_refresh = dg.define_asset_job(
    "daily_refresh",
    selection=EVERYTHING - TRAINING,
    description="The daily run: build, score with the current champions, publish (no retraining).",
    executor_def=dg.in_process_executor,
)
retraining = dg.define_asset_job(
    "retraining",
    selection=TRAINING.downstream(),
    description="Retrain every model (the promotion gate decides), rescore, rebuild the marts, publish.",
    executor_def=dg.in_process_executor,
)


def day_before(scheduled: datetime) -> date:
    return (scheduled - timedelta(days=1)).date()


def registered_day(instance: dg.DagsterInstance, day: date) -> str | None:
    """The day's partition key once the landing days present are registered; None when the day has
    no landing folder (nothing arrived: there is nothing to run)."""
    present = all_landing_days()
    register_landing_days(instance, present)
    return day.isoformat() if day in present else None


@dg.schedule(job=daily_refresh, cron_schedule="0 6 * * *", execution_timezone="UTC")
def daily_schedule(context: dg.ScheduleEvaluationContext):
    """06:00 UTC: yesterday's landing day, complete by then."""
    wanted = day_before(context.scheduled_execution_time)
    day = registered_day(context.instance, wanted)
    if day is None:
        return dg.SkipReason(f"no landing folder for {wanted}: nothing arrived, nothing to run")
    return dg.RunRequest(run_key=f"daily-{day}", partition_key=day)


@dg.schedule(job=retraining, cron_schedule="0 3 * * 1", execution_timezone="UTC")
def weekly_retraining(context: dg.ScheduleEvaluationContext):
    """Monday 03:00 UTC: retrain on everything loaded so far; rescore yesterday's landing day."""
    wanted = day_before(context.scheduled_execution_time)
    day = registered_day(context.instance, wanted)
    if day is None:
        return dg.SkipReason(f"no landing folder for {wanted}: nothing to rescore")
    return dg.RunRequest(run_key=f"retraining-{day}", partition_key=day)


def days_after(cursor: str | None) -> list[date]:
    """Landing days present after the cursor; without a cursor, only the newest (history is loaded
    by `make run` or a backfill, not by the sensor's first tick)."""
    present = all_landing_days()
    if cursor is None:
        return present[-1:]
    return [day for day in present if day > date.fromisoformat(cursor)]


@dg.sensor(
    job=daily_refresh,
    minimum_interval_seconds=60,
    description="New landing days start one run covering them (one day, or a range in a single run).",
)
def new_landing_day(context: dg.SensorEvaluationContext):
    new = days_after(context.cursor)
    if not new:
        return dg.SkipReason(f"no landing day after {context.cursor or 'none'}")
    register_landing_days(context.instance, all_landing_days())
    context.update_cursor(new[-1].isoformat())
    first, last = new[0].isoformat(), new[-1].isoformat()
    if first == last:
        return dg.RunRequest(run_key=f"landing-{first}", partition_key=first, tags={"landing_day": first})
    return dg.RunRequest(
        run_key=f"landing-{first}..{last}", tags={**range_tags(new[0], new[-1]), "landing_day": last}
    )


def retrain_job_name(spec: ModelSpec) -> str:
    return f"retrain_{spec.name}"


def retrain_jobs() -> list[dg.UnresolvedAssetJobDefinition]:
    """Per model: its training asset and everything downstream (scores, monitoring, marts, publish)."""
    return [
        dg.define_asset_job(
            retrain_job_name(spec),
            selection=dg.AssetSelection.assets(model_key(spec)).downstream(),
            description=f"Retrain {spec.name} (the promotion gate decides), rescore, monitor, publish.",
            executor_def=dg.in_process_executor,
        )
        for spec in running_specs().values()
    ]


# built once: Definitions refuses two job objects of the same name
RETRAIN_JOBS = retrain_jobs()


def newest_landing_day(instance: dg.DagsterInstance) -> str | None:
    present = all_landing_days()
    return registered_day(instance, present[-1]) if present else None


@dg.sensor(
    jobs=RETRAIN_JOBS,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Retrains a model when its drift or matured-performance check fails (once the data "
    "has moved past the cooldown) or when its spec changed; reads the published snapshot only.",
)
def retrain_on_monitoring(context: dg.SensorEvaluationContext):
    from ml.monitoring.triggers import decide, registry_published

    snapshot = analytics_db()
    if not snapshot.exists():
        return dg.SkipReason(f"no published snapshot at {snapshot} yet")
    specs = running_specs()
    with connect(snapshot, read_only=True) as con:
        if not registry_published(con):
            return dg.SkipReason("the published snapshot has no model registry yet")
        decisions = [decide(con, spec) for spec in specs.values()]
    requests, notes = [], []
    for decision in decisions:
        notes += [f"{decision.model_name}: {note}" for note in decision.waiting]
        if not decision.retrain:
            continue
        spec = specs[decision.model_name]
        partition = newest_landing_day(context.instance) if spec.scoring.window == "daily" else None
        if spec.scoring.window == "daily" and partition is None:
            notes.append(f"{spec.name}: no landing day to rescore")
            continue
        context.log.info(f"{spec.name}: retraining ({'; '.join(decision.reasons)})")
        requests.append(
            dg.RunRequest(
                run_key=decision.key,
                job_name=retrain_job_name(spec),
                partition_key=partition,
                tags={RETRAIN_REASON_TAG: "; ".join(decision.reasons), "ml/model": spec.name},
            )
        )
    if not requests:
        return dg.SkipReason("no model needs retraining" + (f" ({'; '.join(notes)})" if notes else ""))
    return dg.SensorResult(run_requests=requests)
