"""Every path the pipeline uses, with its one default, from the environment."""

from __future__ import annotations

from pathlib import Path

from ml.settings import DATA_DIR, PATH_VARIABLES, REPO_ROOT, Settings


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
    assert all(Path(value).parent == tmp_path for value in vars(moved).values())
    assert len({*vars(moved).values()}) == len(PATH_VARIABLES)
    assert Settings.from_environ(dict.fromkeys(PATH_VARIABLES, "")) == Settings.from_environ({})
