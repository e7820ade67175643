"""Jobs, schedules and the landing sensor. Selections are by group, never long lists of keys."""

from __future__ import annotations

import dagster as dg

from orchestration.lib.landing import newest_days

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

daily_schedule = dg.ScheduleDefinition(job=daily_refresh, cron_schedule="0 6 * * *", execution_timezone="UTC")
weekly_retraining = dg.ScheduleDefinition(
    job=full_pipeline, cron_schedule="0 3 * * 1", execution_timezone="UTC"
)


def newest_landing_day() -> str | None:
    days = newest_days().values()
    return max(days).isoformat() if days else None


@dg.sensor(
    job=daily_refresh, minimum_interval_seconds=60, description="A new day of landing files starts a run."
)
def new_landing_day(context: dg.SensorEvaluationContext):
    newest = newest_landing_day()
    if newest is None or (context.cursor and newest <= context.cursor):
        return dg.SkipReason(f"no landing day after {context.cursor or 'none'}")
    context.update_cursor(newest)
    return dg.RunRequest(run_key=f"landing-{newest}", tags={"landing_day": newest})
