"""A tiny generated world, built once per session by the real `dbt build`."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass

import duckdb
import pytest

from tests.conftest import DbtEnv, generate_world

# Small enough for a few seconds of generation, with a defect rate high enough that every kind of
# defect shows up, and long enough for chargebacks to arrive.
TINY = {
    "seed": 11,
    "days": 60,
    "customers": 600,
    "stores": 2,
    "products": 12,
    "payments_per_day": 120,
    "defect_rate": 0.02,
}


@dataclass(frozen=True)
class BuiltWarehouse:
    env: DbtEnv
    defects: dict
    build_stdout: str

    def query(self, sql: str) -> list[tuple]:
        with duckdb.connect(str(self.env.database), read_only=True) as con:
            return con.sql(sql).fetchall()

    def scalar(self, sql: str):
        return self.query(sql)[0][0]


@pytest.fixture(scope="session")
def built_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuiltWarehouse]:
    root = tmp_path_factory.mktemp("warehouse")
    landing, oracle = generate_world(root, **TINY)
    defects = json.loads((oracle / "defects.json").read_text())
    # The pipeline must never need the oracle: it is gone before dbt runs.
    shutil.rmtree(oracle)
    env = DbtEnv(landing_dir=landing, database=root / "warehouse.duckdb", work_dir=root)
    # a terminal user's fresh build: the ML layer's tables (empty) first, then the whole project
    env.python("-m", "ml", "tables")
    result = env.dbt("build")
    yield BuiltWarehouse(env=env, defects=defects, build_stdout=result.stdout)
