"""A default-scale world (what `make run` builds) taken through the real pipeline once per session
(the `trained_warehouse` fixture in tests/conftest.py):
dbt build --exclude source:ml+ -> ml train -> ml score -> dbt build --selector after_scores, in one
process as a Dagster run does (tests/in_process.py)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from tests.conftest import DbtEnv, generate_world


@dataclass(frozen=True)
class TrainedWarehouse:
    env: DbtEnv
    oracle_dir: Path

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        with duckdb.connect(str(self.env.database), read_only=True) as con:
            return con.execute(sql, params or []).fetchall()

    def scalar(self, sql: str, params: list | None = None):
        return self.query(sql, params)[0][0]

    def copy_to(self, root: Path) -> DbtEnv:
        """A private copy (database and model store) for tests that change the registry."""
        root.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.env.database, root / "warehouse.duckdb")
        shutil.copytree(self.env.models_dir, root / "models")
        return DbtEnv(landing_dir=self.env.landing_dir, database=root / "warehouse.duckdb", work_dir=root)


def build_trained_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrainedWarehouse]:
    root = tmp_path_factory.mktemp("ml-warehouse")
    landing, oracle = generate_world(root)  # the default world of `make run`
    hidden_oracle = root.parent / f"{root.name}-oracle"
    oracle.rename(hidden_oracle)  # the pipeline runs without the oracle in reach
    env = DbtEnv(landing_dir=landing, database=root / "warehouse.duckdb", work_dir=root)
    env.in_process(
        "dbt build --exclude source:ml+",  # the phases before_ml and daily in one invocation
        "ml train",
        "ml score",
        "dbt build --selector after_scores",
    )
    yield TrainedWarehouse(env=env, oracle_dir=hidden_oracle)
