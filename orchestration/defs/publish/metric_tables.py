"""The semantic layer's saved-query exports, as tables of the file about to be published.

Each saved query of warehouse/models/semantic/ with an export becomes `<schema>.<name>` (schema
`metrics`), computed by MetricFlow's SQL from the marts just copied into the same file: the tables
analysts open are the metrics' one definition applied to exactly the marts they see beside them,
whichever engine built the warehouse."""

from __future__ import annotations

from pathlib import Path

import duckdb


def write_metric_tables(con: duckdb.DuckDBPyConnection, dbt_target: Path) -> dict[str, int]:
    """Create every export's table in `con`'s database; rows per `schema.table`."""
    # MetricFlow takes 1.3 s to import: only the publish step pays it, not Dagster's code location
    from orchestration.lib.metricflow_sql import SemanticLayer

    (database,) = con.execute("select current_database()").fetchone()
    counts: dict[str, int] = {}
    for export in SemanticLayer(dbt_target, database).exports():
        name = f'"{export.schema}"."{export.table}"'
        con.execute(f'create schema if not exists "{export.schema}"')
        # the SQL ends in a comment line: the closing parenthesis goes on a line of its own
        con.execute(f"create table {name} as select * from (\n{export.sql}\n) order by all")
        counts[f"{export.schema}.{export.table}"] = con.execute(f"select count(*) from {name}").fetchone()[0]
    return counts
