"""DuckDB's resource limits come from three environment variables, for Python and dbt alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml.duckdb_limits import connect, limits, set_statements


def _settings(path: Path) -> tuple[str, int, str]:
    with connect(path) as con:
        return con.execute(
            "select current_setting('memory_limit'), current_setting('threads'), "
            "current_setting('temp_directory')"
        ).fetchone()


def test_unset_they_are_duckdbs_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WAREHOUSE_MEMORY_LIMIT", "WAREHOUSE_THREADS", "WAREHOUSE_TEMP_DIR"):
        monkeypatch.delenv(name, raising=False)
    assert limits() == {} and set_statements() == []


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
