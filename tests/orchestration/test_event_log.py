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
