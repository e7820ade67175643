"""The same warehouse on DuckDB and on Spark (target `spark`): the dispatch macros change nothing on
DuckDB, and a small world built on both engines gives the same rows in every built relation. DuckDB
builds it at once; Spark at once too, and (marker `engines`, `make test-all`) in two incremental
phases: each table's first half of its landing days, then all of them."""

from __future__ import annotations

import json
import os
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
from tests.warehouse.engines import compare_engines, compare_relation, in_duckdb_order, row_hashes

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


def first_days(landing: Path, target: Path) -> Path:
    """Each landing table's files of the first half of its own landing days (at least one day),
    hard-linked under `target`."""
    for table in sorted({folder.parent for folder in landing.rglob("date=*")}):
        days = sorted(folder.name for folder in table.glob("date=*"))
        for day in days[: max(1, len(days) // 2)]:
            for path in sorted((table / day).rglob("*")):
                if path.is_file():
                    (target / path.relative_to(landing)).parent.mkdir(parents=True, exist_ok=True)
                    os.link(path, target / path.relative_to(landing))
    return target


def build_two_engines(root: Path, in_phases: bool) -> TwoEngines:
    """The sample world built on DuckDB at once and on Spark at once or, `in_phases`, each landing
    table's first half of its days and then all of them incrementally, in one Spark session."""
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
    phases = ["--landing", str(first_days(landing, root / "landing-first-half"))] if in_phases else []
    phases += ["--landing", str(landing)]
    spark = subprocess.run(
        [sys.executable, "-m", "tests.spark_in_phases", *phases, "--export", str(root / "spark-export")],
        cwd=REPO_ROOT,
        env=spark_env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert spark.returncode == 0, spark.stdout[-4000:] + spark.stderr[-4000:]
    return TwoEngines(landing, env.database, root / "spark-export", spark.stdout)


@pytest.fixture(scope="module")
def two_engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoEngines]:
    yield build_two_engines(tmp_path_factory.mktemp("engines"), in_phases=False)


@pytest.fixture(scope="module")
def spark_in_phases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoEngines]:
    yield build_two_engines(tmp_path_factory.mktemp("engines-in-phases"), in_phases=True)


def assert_same_warehouse(two_engines: TwoEngines) -> None:
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
    # the base models are partitioned by landing day on Spark (the partition column last)
    for model in ("base_payments__payments", "base_shop__orders", "base_shop__order_items"):
        schema = pl.read_parquet_schema(two_engines.spark_export / f"staging.{model}.parquet")
        assert list(schema)[-1] == "_loaded_on", model


@pytest.mark.spark
def test_the_engine_macros_leave_every_duckdb_table_as_it_was(two_engines: TwoEngines) -> None:
    with duckdb.connect(str(two_engines.duckdb), read_only=True) as con:
        hashes = row_hashes(con, two_engines.landing)
    expected = json.loads(DUCKDB_ROW_HASHES.read_text())
    assert sorted(hashes) == sorted(expected)
    assert {name: h for name, h in hashes.items() if h != expected[name]} == {}


@pytest.mark.spark
def test_spark_builds_the_same_warehouse_as_duckdb(two_engines: TwoEngines) -> None:
    assert_same_warehouse(two_engines)


@pytest.mark.spark
@pytest.mark.engines
def test_spark_built_in_incremental_phases_equals_duckdb_built_at_once(spark_in_phases: TwoEngines) -> None:
    """The second phase replaces the landing days it loads (insert_overwrite by day) and ends with
    what a full build gives: 174 s alone, about 340 s beside the rest of `make test`, so `make
    test-all` runs it and CI does not."""
    assert_same_warehouse(spark_in_phases)


def test_the_comparison_finds_what_differs() -> None:
    duck = pl.DataFrame({"id": ["a", "b"], "x": [1.0, 2.0], "_source_row": ["{}", "{}"]})
    assert compare_relation(duck, duck.reverse().with_columns(pl.lit("{ }").alias("_source_row"))) is None
    assert compare_relation(duck, duck.with_columns(pl.col("x") + 5e-10)) is None
    assert compare_relation(duck, duck.with_columns(pl.col("x") + 2e-9)) is not None
    assert compare_relation(duck, duck.with_columns(pl.Series("id", ["a", "c"]))) is not None
    assert compare_relation(duck, duck.head(1)) is not None
    assert compare_relation(duck, duck.select("x", "id", "_source_row")) is not None
    # Spark's partition column last is the one order difference allowed, and only for that column
    landed = duck.with_columns(pl.lit(1).alias("_loaded_on")).select("id", "_loaded_on", "x", "_source_row")
    last, first = ("id", "x", "_source_row", "_loaded_on"), ("_loaded_on", "id", "x", "_source_row")
    assert in_duckdb_order(landed, landed.select(last)).columns == landed.columns
    assert in_duckdb_order(landed, landed.select(first)).columns != landed.columns
    assert in_duckdb_order(duck, duck.select("x", "id", "_source_row")).columns != duck.columns
