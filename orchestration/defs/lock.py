"""The warehouse lock as a Dagster resource: every asset that writes requires it, so a run holds the
lock from its first step to its last (the in-process executor initializes resources once per run)."""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from orchestration.lib.environment import warehouse_db
from orchestration.lib.run_lock import exclusive_run

LOCK_KEY = "warehouse_lock"


class WarehouseLock(dg.ConfigurableResource):
    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator["WarehouseLock"]:
        with exclusive_run(warehouse_db(), holder=f"Dagster run {context.run_id}"):
            yield self
