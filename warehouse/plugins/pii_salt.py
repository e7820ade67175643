"""dbt-duckdb plugin: the PII salt reaches DuckDB as a session variable, never as SQL text.

A salt written into a model's SQL (`sha256('<salt>' || email)`) is a secret on disk wherever dbt
keeps SQL: every compiled and run file under the target path, and `dbt.log`, which records each
statement. Here the profile hands the salt to this plugin (`plugins:` in warehouse/profiles.yml,
from WAREHOUSE_PII_SALT), the plugin sets it as the variable `pii_salt` on every DuckDB connection
and cursor dbt opens, through a bound parameter and outside dbt's statement log, and the SQL reads
it with `getvariable('pii_salt')` (macro `hash_pii`).
"""

from __future__ import annotations

from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin

VARIABLE = "pii_salt"


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        salt = plugin_config.get("salt")
        if not isinstance(salt, str) or not salt:
            raise ValueError(
                "profiles.yml: plugin pii_salt: config.salt must be a non-empty string "
                "(set WAREHOUSE_PII_SALT, or leave it unset for the local default)"
            )
        self._salt = salt

    def configure_connection(self, conn: Any) -> None:
        self._set(conn)

    def configure_cursor(self, cursor: Any) -> None:
        # a cursor is a connection of its own to the same database: variables are not shared
        self._set(cursor)

    def _set(self, connection: Any) -> None:
        connection.execute(f"set variable {VARIABLE} = $1", [self._salt])
