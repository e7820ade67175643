"""The build file is rewritten when it is mostly free blocks, with the same contents; a file someone
else holds open is left alone; a crash before the rename leaves the old file as it was.

Guards against issue 12: the build file grew with every run of the same data (518 MB after one
`make run`, 921 MB after three)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from orchestration.lib.compaction import compact_if_fragmented, staging_path
from tests.reliability.faults import crash_at


def rebuild(path: Path, rounds: int) -> None:
    """Tables rebuilt as dbt rebuilds them (new table, drop the old, rename), a view, constraints."""
    with duckdb.connect(str(path)) as con:
        con.execute("create schema if not exists marts")
        for _ in range(rounds):
            for t in range(6):
                con.execute(
                    f"create table marts.t{t}_new (id bigint primary key, v double not null, s varchar)"
                )
                con.execute(
                    f"insert into marts.t{t}_new "
                    "select range, range / 7, md5(range::varchar) from range(60000)"
                )
                con.execute(f"drop table if exists marts.t{t}")
                con.execute(f"alter table marts.t{t}_new rename to t{t}")
        con.execute("create or replace view marts.v as select count(*) as n from marts.t0")


def fingerprint(path: Path) -> dict:
    with duckdb.connect(str(path), read_only=True) as con:
        tables = {
            t: con.execute(f"select count(*), sum(hash(id, v, s)) from marts.{t}").fetchone()
            for (t,) in con.execute("select table_name from duckdb_tables() order by 1").fetchall()
        }
        constraints = con.execute(
            "select constraint_type, count(*) from duckdb_constraints() group by 1 order by 1"
        ).fetchall()
        return {"tables": tables, "view": con.execute("select n from marts.v").fetchone(), "c": constraints}


@pytest.fixture
def fragmented(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    rebuild(path, rounds=2)  # the second round frees the first round's blocks, not at the end only
    return path


def test_a_fragmented_file_is_rewritten_with_the_same_contents(fragmented: Path) -> None:
    before = fingerprint(fragmented)
    result = compact_if_fragmented(fragmented)
    assert result.compacted and result.free_fraction > 0.3, result
    assert result.bytes_after < 0.75 * result.bytes_before, result
    assert fingerprint(fragmented) == before
    assert not staging_path(fragmented).exists()
    again = compact_if_fragmented(fragmented)  # nothing free any more: left as it is
    assert not again.compacted and again.bytes_after == result.bytes_after


def test_a_file_open_in_another_process_is_left_alone(fragmented: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys; c = duckdb.connect({str(fragmented)!r}); "
            "print(1, flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "1"
        size = fragmented.stat().st_size
        result = compact_if_fragmented(fragmented)
        assert not result.compacted and "open in another process" in result.note
        assert fragmented.stat().st_size == size
    finally:
        holder.communicate("")


def test_a_crash_before_the_rename_leaves_the_old_file(fragmented: Path) -> None:
    before, size = fingerprint(fragmented), fragmented.stat().st_size
    code = "from pathlib import Path; from orchestration.lib.compaction import compact_if_fragmented; "
    code += f"compact_if_fragmented(Path({str(fragmented)!r}))"
    killed = subprocess.run([sys.executable, "-c", code], env=crash_at("compact:before_replace"), check=False)
    assert killed.returncode == -9
    assert fragmented.stat().st_size == size and fingerprint(fragmented) == before
    assert staging_path(fragmented).exists()  # the kill left its staging file ...
    assert compact_if_fragmented(fragmented).compacted  # ... which the next compaction replaces
    assert not staging_path(fragmented).exists() and fingerprint(fragmented) == before
