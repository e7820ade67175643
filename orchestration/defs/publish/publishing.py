"""Write-audit-publish: copy the analyst-facing schemas of the build file into a new DuckDB file,
check it, and atomically rename it over the published one. A reader that has the old file open
keeps its snapshot; new readers see the new file; nobody ever sees half of it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

PUBLISHED_SCHEMAS = ("marts", "ml")


@dataclass(frozen=True)
class Published:
    path: Path
    tables: dict[str, int]  # schema.table -> rows


def publish(build_file: Path, target: Path) -> Published:
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    staging.unlink(missing_ok=True)
    tables: dict[str, int] = {}
    try:
        with duckdb.connect(str(staging)) as out:
            out.execute(f"attach '{build_file}' as build (read_only)")
            relations = out.execute(
                "select schema_name, table_name from duckdb_tables() where database_name = 'build' "
                "and schema_name in (select unnest(?)) "
                "union all select schema_name, view_name from duckdb_views() where database_name = 'build' "
                "and schema_name in (select unnest(?)) and not internal order by 1, 2",
                [list(PUBLISHED_SCHEMAS), list(PUBLISHED_SCHEMAS)],
            ).fetchall()
            for schema in PUBLISHED_SCHEMAS:
                out.execute(f'create schema if not exists "{schema}"')
            for schema, table in relations:
                out.execute(f'create table "{schema}"."{table}" as select * from build."{schema}"."{table}"')
                tables[f"{schema}.{table}"] = out.execute(
                    f'select count(*) from "{schema}"."{table}"'
                ).fetchone()[0]
            out.execute("detach build")
            out.execute("checkpoint")
        os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)
    return Published(target, tables)
