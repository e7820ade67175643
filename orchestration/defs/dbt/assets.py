"""Every dbt seed, snapshot and model as assets; every dbt test as an asset check.

dbt runs in three phases, the selectors of warehouse/selectors.yml, one asset definition and one
`dbt build` each: `before_ml` (everything the models train on, except the daily models), `daily`
(the models loaded by landing day, partitioned like the landing zone, and what is built from them)
and `after_scores` (the marts on the ML layer's scores). Each data test runs in the first phase in
which every table it reads exists, so no model needs a `depends_on` hint to order its tests.

A range of days is one dbt invocation: its ends reach dbt as LANDING_DAY_FROM and LANDING_DAY_TO
(the `day_var` macro; from the terminal `--vars` works too). Environment variables rather than
`--vars`, because dbt reparses the whole project when the vars change and only the models that read
a changed environment variable otherwise.

dbt runs in this process (orchestration/lib/dbt_in_process.py) and holds the DuckDB file while it
works, so nothing else opens the file during the build. Row counts are read after dbt has released
it and added to the materializations of the tables it built.
"""

# no `from __future__ import annotations`: Dagster checks the context annotation at runtime
from collections.abc import Mapping

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetMaterialization,
    AssetsDefinition,
    Output,
    RetryRequested,
)
from dagster_dbt import DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from ml.duckdb_limits import connect
from ml.identifiers import quote_relation
from ml.settings import settings
from orchestration.defs.dbt.resources import dbt_project
from orchestration.defs.domains import dbt_environ
from orchestration.defs.lock import WarehouseLock  # held for the run: see orchestration/defs/lock.py
from orchestration.lib import engine
from orchestration.lib.dbt_target import invocation_folder, keep_parse_state, prune_invocations
from orchestration.lib.environment import environ_set, warehouse_db
from orchestration.lib.partitions import FULL_REFRESH_TAG, LANDING_DAYS, SINGLE_RUN, partition_days
from orchestration.lib.translator import WarehouseTranslator

TRANSLATOR = WarehouseTranslator(DagsterDbtTranslatorSettings(enable_asset_checks=True))
# The daily phase's dbt tests test whole tables, not a day. As asset checks of a partitioned asset
# Dagster recorded each of them once per day of a range (11 tests x 424 days of rows before a
# `make run` started, and again as they finished). They run in the same `dbt build` and fail the
# step as before; their results are logged as observations of the tables they test.
DAILY_TRANSLATOR = WarehouseTranslator(DagsterDbtTranslatorSettings(enable_asset_checks=False))
# dbt's unit tests test the SQL, not the data: `make test` and a terminal `dbt build` run them, the
# scheduled runs do not (dbt Labs' advice for production builds). They were 11 nodes of every run.
BUILD_FLAGS = ["--exclude-resource-type", "unit_test"]
# DuckDB's message when another process holds the file: transient, so the step is retried.
LOCK_CONFLICT = "Could not set lock on file"
LOCK_RETRIES = 3


def lock_retry_or_raise(error: Exception, retry_number: int) -> None:
    """Retry (10 s, 20 s, 40 s) when dbt failed on a lock held by someone else; a failed test or
    model is not transient and fails the step at once."""
    if LOCK_CONFLICT in str(error):
        raise RetryRequested(max_retries=LOCK_RETRIES, seconds_to_wait=10 * 2**retry_number) from error
    raise error


def row_counts(keys: list[AssetKey]) -> dict[AssetKey, int]:
    """Rows of each materialized table, read once dbt released the file (on Spark, by Spark)."""
    if settings().engine == engine.SPARK:
        counts = engine.row_counts([".".join(key.path) for key in keys])
        return {key: counts[".".join(key.path)] for key in keys}
    with connect(warehouse_db(), read_only=True) as con:
        return {
            key: int(con.execute(f"select count(*) from {quote_relation('.'.join(key.path))}").fetchone()[0])
            for key in keys
        }


def materialized_key(context: AssetExecutionContext, event: object) -> AssetKey | None:
    if isinstance(event, Output):
        return context.asset_key_for_output(event.output_name)
    if isinstance(event, AssetMaterialization):
        return event.asset_key
    return None


def run_dbt(context: AssetExecutionContext, dbt: DbtCliResource, days: Mapping[str, str] | None = None):
    """`dbt build` of the step's phase (its selector; a subset when Dagster selected one).

    Test results are yielded as dbt reports them, so the UI shows them while dbt works. dbt holds
    the DuckDB file until it exits, so the tables' materializations are kept and yielded afterwards,
    each with its `dagster/row_count` (one event per table rather than a materialization plus an
    observation: run history is stored per event). dbt's own progress lines stream to the step's
    log as it works."""
    target = invocation_folder(context.op_execution_context.op.name, context.run.run_id)
    full_refresh = ["--full-refresh"] if context.run.tags.get(FULL_REFRESH_TAG) == "true" else []
    materializations = []  # (table, event), yielded once dbt has released the file
    # for as long as dbt runs (it runs in this process): the days, the domains of the manifest, the target
    with environ_set({**dbt_environ(), **(days or {})}):
        if settings().engine == engine.SPARK:  # the landing views and the ml tables, in the run's session
            sources = str(target / engine.SOURCES_FOLDER)
            engine.prepare_spark({**dbt_environ(), "DBT_TARGET_PATH": sources, "DBT_LOG_PATH": sources})
        invocation = dbt.cli(
            ["build", *BUILD_FLAGS, *full_refresh], context=context, raise_on_error=False, target_path=target
        )
        try:
            for event in invocation.stream():
                key = materialized_key(context, event)
                if key is None:
                    yield event
                else:
                    materializations.append((key, event))
        finally:
            prune_invocations(target)
        error = invocation.get_error()
    if error is not None:
        yield from (event for _, event in materializations)  # what dbt built before it failed
        lock_retry_or_raise(error, context.retry_number)
    keep_parse_state(target)
    counts = row_counts([key for key, _ in materializations])
    for key, event in materializations:
        yield event.with_metadata({**event.metadata, "dagster/row_count": counts[key]})


def whole_phase(selector: str) -> AssetsDefinition:
    """An unpartitioned phase (warehouse/selectors.yml): its dbt build, whole."""

    @dbt_assets(
        manifest=dbt_project().manifest_path,
        dagster_dbt_translator=TRANSLATOR,
        name=f"warehouse_dbt_{selector}",
        selector=selector,
    )
    def phase(context: AssetExecutionContext, dbt: DbtCliResource, warehouse_lock: WarehouseLock):
        yield from run_dbt(context, dbt)

    return phase


@dbt_assets(
    manifest=dbt_project().manifest_path,
    dagster_dbt_translator=DAILY_TRANSLATOR,
    name="warehouse_dbt_daily",
    selector="daily",
    partitions_def=LANDING_DAYS,
    backfill_policy=SINGLE_RUN,
)
def warehouse_dbt_daily(context: AssetExecutionContext, dbt: DbtCliResource, warehouse_lock: WarehouseLock):
    first, last = partition_days(context)
    context.log.info(f"landing days {first} to {last} in one dbt invocation")
    yield from run_dbt(
        context, dbt, {"LANDING_DAY_FROM": first.isoformat(), "LANDING_DAY_TO": last.isoformat()}
    )


DBT_PHASES = [whole_phase("before_ml"), warehouse_dbt_daily, whole_phase("after_scores")]
