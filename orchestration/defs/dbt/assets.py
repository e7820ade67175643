"""Every dbt seed, snapshot and model as assets; every dbt test as an asset check.

Two dbt asset definitions share one body: the daily-partitioned models (dbt tag `daily`, loaded by
landing day) and everything else. A range of days is one dbt invocation with the range as vars
(`landing_day_from`, `landing_day_to`); plain `dbt build` without vars builds the full range.

dbt runs as a subprocess that holds the DuckDB write lock while it works, so nothing in this
process opens the file during the build. Row counts are read after dbt has exited and added to the
materializations of the tables it built.
"""

# no `from __future__ import annotations`: Dagster checks the context annotation at runtime
import json
import os

import duckdb
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetMaterialization,
    Output,
    RetryRequested,
)
from dagster_dbt import DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from ml.identifiers import quote_relation
from orchestration.defs.dbt.resources import dbt_project
from orchestration.defs.lock import WarehouseLock  # held for the run: see orchestration/defs/lock.py
from orchestration.lib.dbt_target import invocation_folder, keep_parse_state, prune_invocations
from orchestration.lib.environment import warehouse_db
from orchestration.lib.partitions import LANDING_DAYS, SINGLE_RUN, partition_days
from orchestration.lib.translator import WarehouseTranslator

TRANSLATOR = WarehouseTranslator(DagsterDbtTranslatorSettings(enable_asset_checks=True))
# The daily model's dbt tests test the whole table, not a day. As asset checks of a partitioned
# asset Dagster recorded each of them once per day of a range (11 tests x 424 days of rows before a
# `make run` started, and again as they finished). They run in the same `dbt build` and fail the
# step as before; their results are logged as observations of fct_payments.
DAILY_TRANSLATOR = WarehouseTranslator(DagsterDbtTranslatorSettings(enable_asset_checks=False))
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
    """Rows of each materialized table, read once dbt released the file."""
    with duckdb.connect(str(warehouse_db()), read_only=True) as con:
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


def run_dbt(context: AssetExecutionContext, dbt: DbtCliResource, args: list[str]):
    """`dbt build` of the step's selection.

    The graph runs dbt in several steps (before training, the daily models, and after scoring for
    the marts on the scores). "buildable" runs a test only when its parents are selected or
    upstream of the selection, so a test that relates a later model to an earlier table waits for
    the later step instead of failing on a missing table. (Dagster lists the tests of a subset
    explicitly and overrides this.)

    dbt holds the DuckDB file until it exits, so its events are kept and yielded afterwards, each
    table's materialization with its `dagster/row_count` (one event per table rather than a
    materialization plus an observation: run history is stored per event). dbt's own progress
    lines stream to the step's log as it works."""
    os.environ["DBT_INDIRECT_SELECTION"] = "buildable"
    target = invocation_folder(context.op_execution_context.op.name, context.run.run_id)
    invocation = dbt.cli(["build", *args], context=context, raise_on_error=False, target_path=target)
    try:
        events = list(invocation.stream())
    finally:
        prune_invocations(target)
    error = invocation.get_error()
    if error is None and "--vars" not in args:
        keep_parse_state(target)
    if error is not None:
        yield from events  # what dbt built before it failed
        lock_retry_or_raise(error, context.retry_number)
    keys = [materialized_key(context, event) for event in events]
    counts = row_counts([key for key in keys if key is not None])
    for event, key in zip(events, keys, strict=True):
        yield (
            event
            if key is None
            else event.with_metadata({**event.metadata, "dagster/row_count": counts[key]})
        )


@dbt_assets(
    manifest=dbt_project().manifest_path,
    dagster_dbt_translator=TRANSLATOR,
    name="warehouse_dbt",
    selector="not_daily",
)
def warehouse_dbt_assets(context: AssetExecutionContext, dbt: DbtCliResource, warehouse_lock: WarehouseLock):
    yield from run_dbt(context, dbt, [])


@dbt_assets(
    manifest=dbt_project().manifest_path,
    dagster_dbt_translator=DAILY_TRANSLATOR,
    name="warehouse_dbt_daily",
    selector="daily",
    partitions_def=LANDING_DAYS,
    backfill_policy=SINGLE_RUN,
)
def warehouse_dbt_daily_assets(
    context: AssetExecutionContext, dbt: DbtCliResource, warehouse_lock: WarehouseLock
):
    first, last = partition_days(context)
    context.log.info(f"landing days {first} to {last} in one dbt invocation")
    days = {"landing_day_from": first.isoformat(), "landing_day_to": last.isoformat()}
    # fct_payments declares the tables its relationship tests read as dependencies, so those tests
    # run here, and never a test of a model built later (scores, marts).
    yield from run_dbt(context, dbt, ["--vars", json.dumps(days)])
