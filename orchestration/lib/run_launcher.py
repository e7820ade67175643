"""Dagster's default run launcher, plus the health check its run monitoring needs.

The default launcher starts each run in a local process but cannot tell the run monitoring daemon
whether that process still lives, so monitoring never fails a run whose worker was killed. This
subclass answers from the run's own events (orchestration/lib/run_workers.py). Configured in
orchestration/dagster.yaml (`run_launcher`, `run_monitoring`); it must stay cheap to import, as
every Dagster process of the instance loads it.
"""

from __future__ import annotations

from dagster import DagsterRun, DefaultRunLauncher
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus

from orchestration.lib.run_workers import gone_reason


class LocalRunLauncher(DefaultRunLauncher):
    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        reason = gone_reason(self._instance, run)
        if reason is None:
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        return CheckRunHealthResult(WorkerStatus.FAILED, reason)
