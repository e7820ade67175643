"""DuckDB's resource limits come from three environment variables, for Python and dbt alike."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from ml.duckdb_limits import connect, limits, release_cache, set_statements


def _settings(path: Path) -> tuple[str, int, str]:
    with connect(path) as con:
        return con.execute(
            "select current_setting('memory_limit'), current_setting('threads'), "
            "current_setting('temp_directory')"
        ).fetchone()


def test_unset_they_are_duckdbs_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WAREHOUSE_MEMORY_LIMIT", "WAREHOUSE_THREADS", "WAREHOUSE_TEMP_DIR"):
        monkeypatch.delenv(name, raising=False)
    # only the allocator's background thread, which changes no limit, is always set
    assert limits() == {"allocator_background_threads": "true"}
    assert set_statements() == ["set allocator_background_threads = 'true'"]


def test_release_cache_evicts_the_scanned_blocks_and_keeps_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WAREHOUSE_MEMORY_LIMIT", "1GB")
    cached = "select coalesce(sum(memory_usage_bytes), 0) from duckdb_memory() where tag = 'BASE_TABLE'"
    with connect(tmp_path / "warehouse.duckdb") as con:
        con.execute("create table t as select range as i, range::varchar as s from range(2000000)")
        con.execute("checkpoint")
        con.execute("select sum(i), max(s) from t").fetchone()
        before = con.execute(cached).fetchone()[0]
        release_cache(con)
        after = con.execute(cached).fetchone()[0]
        assert after < before / 10, (before, after)  # what stays is the table's pinned metadata
        assert con.execute("select current_setting('memory_limit')").fetchone()[0] == "953.6 MiB"
        assert con.execute("select count(*) from t").fetchone()[0] == 2_000_000
        # the buffer pool itself has its limit back, not only the setting: a query needing more
        # than the 1MB used for the release runs
        assert con.execute("select count(distinct s) from t").fetchone()[0] == 2_000_000


def test_release_cache_without_a_configured_limit_restores_duckdbs_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WAREHOUSE_MEMORY_LIMIT", raising=False)
    with connect(tmp_path / "warehouse.duckdb") as con:
        default = con.execute("select current_setting('memory_limit')").fetchone()[0]
        con.execute("create table t as select range::varchar as s from range(2000000)")
        release_cache(con)
        restored = con.execute("select current_setting('memory_limit')").fetchone()[0]
        # DuckDB reports its default rounded to 0.1 of the unit, and that is what is set back
        (number, unit), (default_number, default_unit) = restored.split(), default.split()
        assert unit == default_unit and abs(float(number) - float(default_number)) <= 0.1001
        assert con.execute("select count(distinct s) from t").fetchone()[0] == 2_000_000


def test_a_python_connection_gets_the_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAREHOUSE_MEMORY_LIMIT", "1GB")
    monkeypatch.setenv("WAREHOUSE_THREADS", "1")
    monkeypatch.setenv("WAREHOUSE_TEMP_DIR", str(tmp_path / "spill"))
    memory, threads, temp = _settings(tmp_path / "warehouse.duckdb")
    assert (memory, int(threads), temp) == ("953.6 MiB", 1, str(tmp_path / "spill"))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WAREHOUSE_MEMORY_LIMIT", "lots"),
        ("WAREHOUSE_MEMORY_LIMIT", "1GB'; drop table x; --"),
        ("WAREHOUSE_THREADS", "0"),
        ("WAREHOUSE_THREADS", "two"),
    ],
)
def test_a_bad_value_is_refused_with_its_name(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=name):
        limits()


def test_release_cache_is_skipped_when_pinned_memory_exceeds_the_low_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WAREHOUSE_MEMORY_LIMIT", "1GB")
    with connect(tmp_path / "warehouse.duckdb") as con:
        con.execute("create table t as select range::varchar as s from range(3000000)")
        pending = con.cursor()
        # a result still being read holds its blocks pinned: the 1MB limit cannot be reached
        pending.execute("select s, count(*) from t group by s order by s").fetchmany(10)
        other = con.cursor()
        with pytest.raises(duckdb.OutOfMemoryException):
            other.execute("set memory_limit = '1MB'")
        release_cache(other)
        assert other.execute("select current_setting('memory_limit')").fetchone()[0] == "953.6 MiB"
        assert other.execute("select count(distinct s) from t").fetchone()[0] == 3_000_000
