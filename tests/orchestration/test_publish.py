"""Publishing is atomic: a reader holding the old file keeps its snapshot, a new reader sees the new
file, and only the analyst-facing schemas are published."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from ml.errors import WriteFailedError
from orchestration.defs.publish.publishing import PublishAuditError, audit, publish


def build_file(path: Path, total: int) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts; create schema ml; create schema staging")
        con.execute(f"create table marts.fct_sales as select {total} as total")
        con.execute("create table ml.scores as select 1 as score")
        con.execute("create table staging.base_crm__customers as select 'a@example.com' as email")


def test_publish_copies_only_marts_and_ml(tmp_path: Path) -> None:
    build, target = tmp_path / "build.duckdb", tmp_path / "analytics.duckdb"
    build_file(build, 1)
    result = publish(build, target)
    assert result.tables == {"marts.fct_sales": 1, "ml.scores": 1}
    with duckdb.connect(str(target), read_only=True) as con:
        schemas = {s for (s,) in con.sql("select distinct schema_name from duckdb_tables()").fetchall()}
    assert schemas == {"marts", "ml"}
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_reader_keeps_its_snapshot_while_a_new_reader_sees_the_new_file(tmp_path: Path) -> None:
    build, target = tmp_path / "build.duckdb", tmp_path / "analytics.duckdb"
    build_file(build, 1)
    publish(build, target)
    # a separate process holds the old file open read-only across the publish
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import duckdb, sys; con = duckdb.connect(sys.argv[1], read_only=True); "
                "print(con.sql('select total from marts.fct_sales').fetchone()[0], flush=True); "
                "sys.stdin.readline(); "
                "print(con.sql('select total from marts.fct_sales').fetchone()[0], flush=True)"
            ),
            str(target),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert reader.stdout.readline().strip() == "1"
    build.unlink()
    build_file(build, 2)
    publish(build, target)  # the reader does not block the publish
    reader.stdin.write("\n")
    reader.stdin.flush()
    assert reader.stdout.readline().strip() == "1"  # old snapshot, never half of the new one
    reader.wait(timeout=30)
    with duckdb.connect(str(target), read_only=True) as con:
        assert con.sql("select total from marts.fct_sales").fetchone()[0] == 2


def test_the_audit_refuses_a_copy_that_differs_from_the_build_file(tmp_path: Path) -> None:
    build, target = tmp_path / "build.duckdb", tmp_path / "analytics.duckdb"
    build_file(build, 1)
    counts = publish(build, target).tables
    audit(target, counts)
    with pytest.raises(PublishAuditError, match="the build file has"):
        audit(target, {**counts, "marts.fct_sales": 2})
    with pytest.raises(PublishAuditError):
        audit(target, {**counts, "marts.missing": 0})


def test_a_failed_or_killed_publish_leaves_no_staging_file_nor_its_wal(tmp_path: Path, monkeypatch) -> None:
    """A write that fails mid-transaction (ENOSPC here, found by injecting it with libfiu) leaves
    DuckDB's write-ahead log beside the staging file: the failed publish removes both, and the next
    publish sweeps those a killed one left."""
    import orchestration.defs.publish.publishing as publishing

    build, target = tmp_path / "build.duckdb", tmp_path / "analytics.duckdb"
    build_file(build, 1)
    for leftover in (".analytics.duckdb.999.tmp", ".analytics.duckdb.999.tmp.wal"):
        (tmp_path / leftover).write_bytes(b"left by a killed publish")

    def failing_audit(candidate: Path, expected: dict[str, int]) -> None:
        candidate.with_name(f"{candidate.name}.wal").write_bytes(b"as DuckDB leaves it after ENOSPC")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(publishing, "audit", failing_audit)
    with pytest.raises(
        WriteFailedError, match=r"publishing analytics.duckdb failed on .*No space left on device"
    ):
        publish(build, target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["build.duckdb"]  # nothing published, nothing left
