"""The warehouse lock as a Dagster resource: every asset that writes requires it, so a run holds the
lock from its first step to its last (the in-process executor initializes resources once per run).

Holding it also proves that no other run of this warehouse is executing: a run still STARTED in the
instance whose process is gone was killed, and is marked failed here, with the reason, before this
run writes anything (orchestration/lib/run_workers.py)."""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from orchestration.lib.environment import warehouse_db
from orchestration.lib.run_lock import exclusive_run
from orchestration.lib.run_workers import fail_dead_runs

LOCK_KEY = "warehouse_lock"


class WarehouseLock(dg.ConfigurableResource):
    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator["WarehouseLock"]:
        with exclusive_run(warehouse_db(), holder=f"Dagster run {context.run_id}"):
            if context.instance is not None:
                for run_id in fail_dead_runs(context.instance, except_run_id=context.run_id):
                    context.log.warning(f"marked run {run_id} failed: its process was gone")
            yield self
