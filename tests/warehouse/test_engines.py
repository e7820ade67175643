"""The same warehouse on DuckDB and on Spark (target `spark`): the dispatch macros change nothing on
DuckDB, and a small world built on both engines gives the same rows in every built relation."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl
import pytest

from simulator.sample import sample_landing
from tests.conftest import NO_DATA_TESTS, REPO_ROOT, DbtEnv
from tests.warehouse.engines import compare_engines, compare_relation, row_hashes

# Built at e321f69, before the engine macros, from the same sample world with the same salt: every
# relation's row count and row hash. Regenerate only for a model change meant to change the data.
DUCKDB_ROW_HASHES = Path(__file__).with_name("duckdb_row_hashes.json")
SAMPLE_DAYS = 20


@dataclass(frozen=True)
class TwoEngines:
    landing: Path
    duckdb: Path
    spark_export: Path
    spark_stdout: str


@pytest.fixture(scope="module")
def two_engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoEngines]:
    root = tmp_path_factory.mktemp("engines")
    landing = sample_landing(root, days=SAMPLE_DAYS)
    shutil.rmtree(root / "truth")
    env = DbtEnv(
        landing_dir=landing,
        database=root / "warehouse.duckdb",
        work_dir=root,
        settings={"WAREHOUSE_DOMAINS": "sensors"},
    )
    # the relations only: their data tests run on the tiny worlds (test_dbt_build, tests/orchestration)
    env.in_process("ml tables", f"dbt build {NO_DATA_TESTS}")
    spark_env = {
        **env.environ(),
        "SPARK_WAREHOUSE_DIR": str(root / "spark-warehouse"),
        # built, exported and compared in one session: no metastore needed (warehouse/profiles.yml)
        "SPARK_CATALOG": "in-memory",
        "DBT_TARGET_PATH": str(root / "target-spark"),
        "DBT_LOG_PATH": str(root / "logs-spark"),
    }
    spark = subprocess.run(
        [
            sys.executable,
            "-m",
            "orchestration.lib.spark_build",
            "--command",
            "run",
            "--export",
            str(root / "spark-export"),
        ],
        cwd=REPO_ROOT,
        env=spark_env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert spark.returncode == 0, spark.stdout[-4000:] + spark.stderr[-4000:]
    yield TwoEngines(landing, env.database, root / "spark-export", spark.stdout)


@pytest.mark.spark
def test_the_engine_macros_leave_every_duckdb_table_as_it_was(two_engines: TwoEngines) -> None:
    with duckdb.connect(str(two_engines.duckdb), read_only=True) as con:
        hashes = row_hashes(con, two_engines.landing)
    expected = json.loads(DUCKDB_ROW_HASHES.read_text())
    assert sorted(hashes) == sorted(expected)
    assert {name: h for name, h in hashes.items() if h != expected[name]} == {}


@pytest.mark.spark
def test_spark_builds_the_same_warehouse_as_duckdb(two_engines: TwoEngines) -> None:
    with duckdb.connect(str(two_engines.duckdb), read_only=True) as con:
        differences = compare_engines(con, two_engines.spark_export)
        quarantined = con.sql("select count(*) from quarantine.rejected_rows").fetchone()[0]
    assert differences == {}
    # every built relation was compared, the quarantine and reconciliation among them, on rows
    # that exercise them
    assert len(list(two_engines.spark_export.glob("*.parquet"))) == len(
        json.loads(DUCKDB_ROW_HASHES.read_text())
    )
    assert quarantined > 0


def test_the_comparison_finds_what_differs() -> None:
    duck = pl.DataFrame({"id": ["a", "b"], "x": [1.0, 2.0], "_source_row": ["{}", "{}"]})
    assert compare_relation(duck, duck.reverse().with_columns(pl.lit("{ }").alias("_source_row"))) is None
    assert compare_relation(duck, duck.with_columns(pl.col("x") + 5e-10)) is None
    assert compare_relation(duck, duck.with_columns(pl.col("x") + 2e-9)) is not None
    assert compare_relation(duck, duck.with_columns(pl.Series("id", ["a", "c"]))) is not None
    assert compare_relation(duck, duck.head(1)) is not None
    assert compare_relation(duck, duck.select("x", "id", "_source_row")) is not None
