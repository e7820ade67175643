"""A run whose process was killed is marked failed, with the reason; a live run is left alone.

Guards against the stuck queue of issue 12: a `make run` killed with SIGKILL stayed STARTED in the
instance for ever, and with one run allowed at a time every queued run waited behind it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.instance.ref import InstanceRef

from orchestration.lib.run_workers import fail_dead_runs, gone_reason

SLEEPER = """
import time
import dagster as dg

@dg.op
def sleep_long() -> None:
    time.sleep(600)

@dg.job
def sleeper():
    sleep_long()
"""


def start_sleeper(tmp_path: Path, home: Path) -> subprocess.Popen:
    """`dagster job execute` of a job that sleeps, in its own process group; returns once STARTED."""
    (tmp_path / "sleeper.py").write_text(SLEEPER)
    dagster = Path(sys.executable).with_name("dagster")
    process = subprocess.Popen(
        [str(dagster), "job", "execute", "-f", str(tmp_path / "sleeper.py"), "-j", "sleeper"],
        cwd=tmp_path,
        env={**os.environ, "DAGSTER_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    with instance_at(home) as instance:
        while not instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
            assert process.poll() is None and time.monotonic() < deadline, "the sleeper never started"
            time.sleep(0.2)
    return process


def instance_at(home: Path) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "dagster_home"
    path.mkdir()
    (path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    # Create the storage before two processes open it: a test polling the instance while
    # `dagster job execute` creates the same SQLite files can stamp two alembic heads.
    with instance_at(path):
        pass
    return path


def test_a_killed_run_is_marked_failed_with_the_reason(tmp_path: Path, home: Path) -> None:
    process = start_sleeper(tmp_path, home)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    with instance_at(home) as instance:
        (run,) = instance.get_runs()
        assert run.status == dg.DagsterRunStatus.STARTED  # what the kill leaves behind
        assert "no longer exists" in (gone_reason(instance, run) or "")
        assert fail_dead_runs(instance) == [run.run_id]
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
        failure = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
        assert "killed or crashed" in failure[0].event_log_entry.dagster_event.message
        assert fail_dead_runs(instance) == []  # once


def test_a_live_run_is_left_alone(tmp_path: Path, home: Path) -> None:
    process = start_sleeper(tmp_path, home)
    try:
        with instance_at(home) as instance:
            (run,) = instance.get_runs()
            assert gone_reason(instance, run) is None
            assert fail_dead_runs(instance) == []
            assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_the_instance_uses_the_launcher_that_reports_dead_workers(repo_root: Path, tmp_path: Path) -> None:
    # the project's instance settings: run monitoring on, with a launcher that can tell it
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text((repo_root / "orchestration" / "dagster.yaml").read_text())
    with instance_at(home) as instance:
        assert instance.run_monitoring_enabled
        assert instance.run_launcher.supports_check_run_worker_health
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 1
