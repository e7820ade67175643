"""Is the process executing a run still alive? A run whose process is gone is marked failed.

A run killed from outside (SIGKILL of its process group, the OOM killer, a power cut) cannot write
its own failure, so it stays STARTED in the instance for ever. The instance allows one run at a
time (orchestration/dagster.yaml), so every run queued after it would wait for ever too.

Every Dagster event records the pid of the process that wrote it; the run's RUN_START event is
written by the process that executes its steps (ours run in one process: `in_process_executor`).
That process is alive when a process with that pid exists and was started no later than the run
(a pid reused by a newer process does not count). Runs on this machine only: the laptop's local
processes, which is what the default run launcher starts (orchestration/lib/run_launcher.py).

Two callers, so a dead run is cleared whichever way work resumes: the daemon's run monitoring
(`dagster dev`: the queue moves again within one poll) and the start of every run (the warehouse
lock: `make run` from a terminal does not go through the queue).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from dagster import DagsterEventType, DagsterInstance, DagsterRun, DagsterRunStatus, RunsFilter

# A process's start time is read from /proc in clock ticks: allow for the rounding.
START_TIME_SLACK_S = 1.0


@dataclass(frozen=True)
class Worker:
    pid: int
    started_at: float  # the run's RUN_START, seconds since the epoch

    def describe(self) -> str:
        started = datetime.fromtimestamp(self.started_at, UTC)
        return f"pid {self.pid}, run started {started:%Y-%m-%d %H:%M:%S} UTC"


def run_worker(instance: DagsterInstance, run_id: str) -> Worker | None:
    """The process that started executing the run, or None before it did (no RUN_START yet)."""
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.RUN_START, limit=1).records
    if not records:
        return None
    entry = records[0].event_log_entry
    pid = entry.dagster_event.pid if entry.dagster_event else None
    return Worker(pid, entry.timestamp) if pid else None


def is_alive(worker: Worker) -> bool:
    import psutil  # imported when a run is checked, not with the definitions

    try:
        started = psutil.Process(worker.pid).create_time()
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
    except psutil.AccessDenied:  # someone else's process: it exists, and we cannot tell more
        return True
    return started <= worker.started_at + START_TIME_SLACK_S


def gone_reason(instance: DagsterInstance, run: DagsterRun) -> str | None:
    """Why a STARTED run's worker is known to be gone, or None (alive, or not known)."""
    worker = run_worker(instance, run.run_id)
    if worker is None or is_alive(worker):
        return None
    return (
        f"the process executing this run ({worker.describe()}) no longer exists: it was killed or "
        "crashed without recording an end. The run is marked failed so that queued runs can start; "
        "rerun it to finish its work (every step is safe to rerun)."
    )


def fail_dead_runs(instance: DagsterInstance, except_run_id: str | None = None) -> list[str]:
    """Mark every STARTED run whose worker is gone as failed, with the reason; returns their ids."""
    failed = []
    for record in instance.get_run_records(filters=RunsFilter(statuses=[DagsterRunStatus.STARTED])):
        run = record.dagster_run
        if run.run_id == except_run_id:
            continue
        reason = gone_reason(instance, run)
        if reason is not None:
            instance.report_run_failed(run, reason)
            failed.append(run.run_id)
    return failed
