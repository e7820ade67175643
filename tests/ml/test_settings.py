"""Every path the pipeline uses, with its one default, from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml.settings import DATA_DIR, PATH_VARIABLES, PATHS, REPO_ROOT, Settings, main


def test_defaults_live_under_the_repository_data_folder() -> None:
    settings = Settings.from_environ({})
    assert settings.warehouse_db == DATA_DIR / "warehouse.duckdb"
    assert settings.analytics_db == DATA_DIR / "analytics.duckdb"
    assert settings.landing_dir == DATA_DIR / "landing"
    assert settings.rejected_dir == DATA_DIR / "landing_rejected"
    assert settings.models_dir == DATA_DIR / "models"
    assert settings.specs_dir == REPO_ROOT / "ml" / "models"


def test_each_variable_moves_its_path_and_an_empty_one_means_unset(tmp_path: Path) -> None:
    environ = {name: str(tmp_path / name.lower()) for name in PATH_VARIABLES}
    moved = Settings.from_environ(environ)
    paths = [getattr(moved, field) for field in PATHS]
    assert all(path.parent == tmp_path for path in paths)
    assert len({*paths}) == len(PATH_VARIABLES)
    assert Settings.from_environ(dict.fromkeys(PATH_VARIABLES, "")) == Settings.from_environ({})


def test_retail_is_always_on_first_and_each_domain_is_named_once() -> None:
    assert Settings.from_environ({}).domains == ("retail",)
    assert Settings.from_environ({"WAREHOUSE_DOMAINS": " sensors, retail,sensors,"}).domains == (
        "retail",
        "sensors",
    )


def test_the_engine_is_duckdb_unless_spark_is_named_and_a_typo_is_refused() -> None:
    assert Settings.from_environ({}).engine == "duckdb"
    assert Settings.from_environ({"WAREHOUSE_ENGINE": " Spark "}).engine == "spark"
    with pytest.raises(ValueError, match=r"WAREHOUSE_ENGINE=.sparc.: .* one of duckdb, spark"):
        Settings.from_environ({"WAREHOUSE_ENGINE": "sparc"})


def test_the_command_prints_every_path_and_creates_the_database_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WAREHOUSE_DB", str(tmp_path / "built" / "warehouse.duckdb"))
    monkeypatch.setenv("ANALYTICS_DB", str(tmp_path / "published" / "analytics.duckdb"))
    assert main(["--make-dirs"]) == 0
    assert (tmp_path / "built").is_dir() and (tmp_path / "published").is_dir()
    printed = dict(line.split("=", 1) for line in capsys.readouterr().out.splitlines())
    assert set(printed) == {
        *PATH_VARIABLES,
        "WAREHOUSE_DOMAINS",
        "DASK_SCHEDULER_ADDRESS",
        "WAREHOUSE_ENGINE",
    }
    assert printed["WAREHOUSE_DB"] == str(tmp_path / "built" / "warehouse.duckdb")
