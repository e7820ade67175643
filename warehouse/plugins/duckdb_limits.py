"""dbt-duckdb plugin: dbt's DuckDB gets the same memory limit, threads and spill directory as every
Python connection to the warehouse (defined once in ml/duckdb_limits.py, from WAREHOUSE_MEMORY_LIMIT,
WAREHOUSE_THREADS and WAREHOUSE_TEMP_DIR)."""

from __future__ import annotations

from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin

from ml.duckdb_limits import set_statements


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        self._statements = set_statements()  # a bad value stops dbt before it connects

    def configure_connection(self, conn: Any) -> None:
        for statement in self._statements:
            conn.execute(statement)
