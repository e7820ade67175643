"""Keep the build file as large as the data it holds.

DuckDB reuses the blocks a dropped or rebuilt table frees, but returns them to the file system only
when they lie at the end of the file. A run that rebuilds tables therefore leaves the file up to
twice its data: `data/warehouse.duckdb` was 518 MB after the first `make run` and 921 MB after the
third, for the same data. When more than `FREE_FRACTION` of the file is free blocks, the file is
rewritten: every schema, table and view copied into a new file (`COPY FROM DATABASE`), checked
(every table's rows, every view), flushed, and renamed over the old one. A crash before the rename
leaves the old file as it was; the new file replaces it whole.

The threshold is 25%: the file stays under 1.33x its data, and DuckDB writes the next run's tables
into the free blocks first, so a rerun of the same data leaves the file the same size. A lower one
made every daily run pay for a whole rewrite: with staging and the fraud features incremental, a
day's run frees about 9% of the file (the tables still rebuilt whole), and rewriting 513 MiB took
10 s of a 59 s daily run at the default world (2 cores). A full refresh frees more than a quarter
and is compacted; a first build leaves almost nothing free and is not.

The build file's writer holds it open, with DuckDB's file lock, from before the copy until after the
rename, so nobody can write to it in between. Whoever else has it open (a terminal `dbt build`, an
analyst) makes the lock fail: the compaction is skipped and says so; the next run tries again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ml.duckdb_limits import connect
from ml.write_points import reached
from orchestration.lib.durable import fsync

FREE_FRACTION = 0.25


class CompactionAuditError(RuntimeError):
    """The rewritten file does not hold what the build file holds."""


@dataclass(frozen=True)
class Compaction:
    path: Path
    bytes_before: int
    bytes_after: int
    free_fraction: float  # of the file's blocks, before
    compacted: bool
    note: str


def staging_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.compact.tmp")


def compact_if_fragmented(path: Path, threshold: float = FREE_FRACTION) -> Compaction:
    """Rewrite the DuckDB file at `path` when more than `threshold` of its blocks are free."""
    staging = staging_path(path)
    for stale in (staging, staging.with_name(staging.name + ".wal")):  # a compaction killed midway
        stale.unlink(missing_ok=True)
    before = path.stat().st_size
    try:
        con = connect(path)
    except duckdb.IOException as error:
        note = f"skipped: {path} is open in another process ({str(error).splitlines()[0]})"
        return Compaction(path, before, before, float("nan"), False, note)
    try:
        con.execute("set enable_progress_bar = false")
        con.execute("checkpoint")
        (total, free) = con.execute("select total_blocks, free_blocks from pragma_database_size()").fetchone()
        fraction = free / total if total else 0.0
        if fraction <= threshold:
            note = f"not needed: {fraction:.0%} of the file is free (compacted above {threshold:.0%})"
            return Compaction(path, before, path.stat().st_size, fraction, False, note)
        (source,) = con.execute("select current_database()").fetchone()
        try:
            con.execute(f"attach '{staging}' as compacted")
            con.execute(f'copy from database "{source}" to compacted')
            con.execute("detach compacted")
            audit(con, source, staging)
            reached("compact:before_replace")
            fsync(staging)
            os.replace(staging, path)
            fsync(path.parent)
        finally:
            staging.unlink(missing_ok=True)
    finally:
        con.close()
    after = path.stat().st_size
    note = f"rewritten: {fraction:.0%} of the file was free, {before / 2**20:.0f} -> {after / 2**20:.0f} MiB"
    return Compaction(path, before, after, fraction, True, note)


def contents(con: duckdb.DuckDBPyConnection, database: str) -> dict[str, int | None]:
    """schema.table -> rows for every table, schema.view -> None for every view, of one database."""
    tables = con.execute(
        "select schema_name, table_name from duckdb_tables() where database_name = ? order by all", [database]
    ).fetchall()
    found: dict[str, int | None] = {
        f"{schema}.{table}": con.execute(
            f'select count(*) from "{database}"."{schema}"."{table}"'
        ).fetchone()[0]
        for schema, table in tables
    }
    views = con.execute(
        "select schema_name, view_name from duckdb_views() where database_name = ? and not internal",
        [database],
    ).fetchall()
    found.update({f"{schema}.{view}": None for schema, view in views})
    return found


def audit(con: duckdb.DuckDBPyConnection, source: str, candidate: Path) -> None:
    con.execute(f"attach '{candidate}' as candidate (read_only)")
    try:
        expected, found = contents(con, source), contents(con, "candidate")
    finally:
        con.execute("detach candidate")
    if found != expected:
        missing = sorted(set(expected.items()) ^ set(found.items()))
        raise CompactionAuditError(f"{candidate}: differs from {source} in {missing[:10]}")
