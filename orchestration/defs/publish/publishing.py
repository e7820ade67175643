"""Write-audit-publish: copy the analyst-facing schemas of the build file into a new DuckDB file,
add the semantic layer's metric tables, check it, and atomically rename it over the published one.
A reader that has the old file open keeps its snapshot; new readers see the new file; nobody ever
sees half of it.

The new file is checked by reopening it read-only and recounting every table against the build
file, and it is flushed to disk (file, then directory) around the rename, so a crash at any point
leaves either the old snapshot or the new one, never a torn file."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ml.duckdb_limits import connect
from ml.write_failures import reported
from ml.write_points import reached
from orchestration.defs.publish.metric_tables import write_metric_tables
from orchestration.lib.durable import fsync

PUBLISHED_SCHEMAS = ("marts", "ml")


@dataclass(frozen=True)
class Published:
    path: Path
    tables: dict[str, int]  # schema.table -> rows


def attach_file(build_file: Path) -> Callable[[duckdb.DuckDBPyConnection], None]:
    """The DuckDB build file as the database `build`, read-only."""

    def attach(con: duckdb.DuckDBPyConnection) -> None:
        con.execute(f"attach '{build_file}' as build (read_only)")

    return attach


def publish(
    build_file: Path,
    target: Path,
    attach_build: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
    semantic_layer: Path | None = None,
) -> Published:
    """Publish the build file's marts and ml schemas (or those of the database `attach_build`
    attaches as `build`: Spark's, orchestration/lib/engine.py) to `target`; with `semantic_layer`
    (the dbt target path holding semantic_manifest.json), also the metric tables computed from
    them (metric_tables.py). A write that fails below (a full disk, an I/O error) is reported with
    the file; the published file is then the one before."""
    with reported(f"publishing {target.name}", target):
        return _write_and_replace(build_file, target, attach_build, semantic_layer)


def _write_and_replace(
    build_file: Path,
    target: Path,
    attach_build: Callable[[duckdb.DuckDBPyConnection], None] | None,
    semantic_layer: Path | None,
) -> Published:
    target.parent.mkdir(parents=True, exist_ok=True)
    # a publish killed or failed before its rename leaves its staging file, and DuckDB's write-ahead
    # log beside it when a write failed mid-transaction (a full disk): remove any (one publisher at a time)
    for stale in target.parent.glob(f".{target.name}.*.tmp*"):
        stale.unlink()
    staging = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tables: dict[str, int] = {}
    reached("publish:before_copy")
    try:
        with connect(staging) as out:
            (attach_build or attach_file(build_file))(out)
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
                # counted in the build file, so that the audit below compares the copy with its source
                tables[f"{schema}.{table}"] = out.execute(
                    f'select count(*) from build."{schema}"."{table}"'
                ).fetchone()[0]
            out.execute("detach build")
            if semantic_layer is not None:
                tables |= write_metric_tables(out, semantic_layer)
            out.execute("checkpoint")
        reached("publish:before_audit")
        audit(staging, tables)
        fsync(staging)
        os.replace(staging, target)
        reached("publish:after_replace")
        fsync(target.parent)
    finally:
        staging.unlink(missing_ok=True)
        staging.with_name(f"{staging.name}.wal").unlink(missing_ok=True)
    return Published(target, tables)


class PublishAuditError(RuntimeError):
    """The file about to be published does not hold what the build file holds."""


def audit(candidate: Path, expected: dict[str, int]) -> None:
    """Reopen the candidate read-only: every expected table is there with the expected rows."""
    with connect(candidate, read_only=True) as con:
        found = {
            f"{schema}.{table}": con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]
            for schema, table in con.execute("select schema_name, table_name from duckdb_tables()").fetchall()
        }
    if found != expected:
        raise PublishAuditError(f"{candidate}: tables and rows {found}, the build file has {expected}")
