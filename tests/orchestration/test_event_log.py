"""The project's Dagster instance stores events through PooledSqliteEventLogStorage: same files and
schema as Dagster's SQLite event log, one open engine per database instead of one per write."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.instance.ref import InstanceRef

from orchestration.lib.event_log import OPEN_DATABASES, PooledSqliteEventLogStorage

REPO = Path(__file__).resolve().parents[2]
WRITES = 40


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A DAGSTER_HOME set up as `make run` sets it up: the project's dagster.yaml."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "orchestration" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def instance_at(home: Path) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))


def materialize(instance: dg.DagsterInstance, times: int) -> None:
    for number in range(times):
        instance.report_runless_asset_event(dg.AssetMaterialization("orders", metadata={"number": number}))


def test_the_project_instance_uses_the_pooled_storage_in_dagsters_directory(home: Path) -> None:
    with instance_at(home) as instance:
        storage = instance.event_log_storage
        assert isinstance(storage, PooledSqliteEventLogStorage)
        materialize(instance, 1)
    assert (home / "history" / "runs" / "index.db").is_file()


def test_writes_reuse_one_engine_per_database_and_another_process_reads_them(home: Path) -> None:
    with instance_at(home) as instance:
        storage = instance.event_log_storage
        materialize(instance, WRITES)
        engines = dict(storage._engines)
        assert len(engines) <= 2  # the index and the runless events' database, nothing per write
        materialize(instance, 1)
        assert all(storage._engines[shard] is engine for shard, engine in engines.items())
        # a reader in another process, while this one keeps its connections open (WAL)
        reader = (
            "import dagster as dg\n"
            "with dg.DagsterInstance.get() as i:\n"
            "    print(len(i.fetch_materializations(dg.AssetKey('orders'), limit=1000).records))\n"
        )
        counted = subprocess.run(
            [sys.executable, "-c", reader], capture_output=True, text=True, check=True, timeout=120
        )
        assert counted.stdout.strip() == str(WRITES + 1)


def test_engines_beyond_the_bound_are_closed_and_wipe_removes_run_databases(home: Path) -> None:
    with instance_at(home) as instance:
        storage = instance.event_log_storage
        run_ids = [f"run{number:02d}" for number in range(OPEN_DATABASES + 3)]
        for run_id in run_ids:
            storage.get_records_for_run(run_id)
        assert len(storage._engines) == OPEN_DATABASES
        assert run_ids[0] not in storage._engines and run_ids[-1] in storage._engines
        storage.wipe()
        assert set(storage._engines) <= {"index"}  # the run databases are closed before removal
        assert sorted(p.name for p in (home / "history" / "runs").glob("*.db")) == ["index.db"]
        materialize(instance, 1)  # usable after the wipe
        assert len(instance.fetch_materializations(dg.AssetKey("orders"), limit=10).records) == 1


DAYS = 30
RANGE_TAGS = {
    "dagster/asset_partition_range_start": "2025-01-01",
    "dagster/asset_partition_range_end": "2025-01-30",
}


@dg.asset(
    partitions_def=dg.DailyPartitionsDefinition(start_date="2025-01-01", end_date="2025-01-31"),
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def daily_rows(context) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"days": len(context.partition_keys)})


def materialize_range(instance: dg.DagsterInstance) -> None:
    assert dg.materialize([daily_rows], instance=instance, tags=RANGE_TAGS).success


def test_a_range_runs_materializations_are_stored_in_one_batch(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With DAGSTER_EVENT_BATCH_SIZE set (as the Makefile sets it), a run over a range of days
    hands its per-day materializations to the storage as one batch: one transaction per database
    instead of one per day, and the same records and partition status as one by one."""
    batches: list[tuple[str, int]] = []
    store_batch = PooledSqliteEventLogStorage.store_event_batch

    def counted(storage: PooledSqliteEventLogStorage, events: list) -> None:
        (kind,) = {event.dagster_event_type for event in events}
        batches.append((kind, len(events)))
        store_batch(storage, events)

    monkeypatch.setattr(PooledSqliteEventLogStorage, "store_event_batch", counted)
    monkeypatch.setenv("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", "true")  # as the Makefile
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "1000")
    with instance_at(home) as instance:
        materialize_range(instance)
        assert batches == [(dg.DagsterEventType.ASSET_MATERIALIZATION, DAYS)]
        key = daily_rows.key
        assert len(instance.fetch_materializations(key, limit=100).records) == DAYS
        assert len(instance.get_materialized_partitions(key)) == DAYS
    monkeypatch.delenv("DAGSTER_EVENT_BATCH_SIZE")
    with instance_at(home) as instance:
        materialize_range(instance)  # one by one
        assert len(batches) == 1
        assert len(instance.fetch_materializations(key, limit=100).records) == 2 * DAYS


def test_a_batch_that_fails_stores_nothing_and_dagster_stores_it_again(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch is one transaction: when a write fails half way, none of its events stay, so
    Dagster's fallback (one by one) does not store the first half twice."""
    calls = 0
    store_asset_event = PooledSqliteEventLogStorage._store_asset_event

    def fails_once(storage: PooledSqliteEventLogStorage, *args: object, **kwargs: object) -> None:
        nonlocal calls
        calls += 1
        if calls == DAYS // 2:
            raise RuntimeError("disk went away")
        store_asset_event(storage, *args, **kwargs)

    monkeypatch.setattr(PooledSqliteEventLogStorage, "_store_asset_event", fails_once)
    monkeypatch.setenv("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", "true")
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "1000")
    with instance_at(home) as instance:
        materialize_range(instance)
        assert calls > DAYS  # the batch failed and was stored again
        records = instance.fetch_materializations(daily_rows.key, limit=100).records
        assert sorted(r.partition_key for r in records) == sorted(
            daily_rows.partitions_def.get_partition_keys()
        )
