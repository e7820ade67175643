"""The same warehouse on DuckDB and on Spark (target `spark`): the dispatch macros change nothing on
DuckDB, and a small world built on both engines gives the same rows in every built relation. DuckDB
builds it at once; Spark at once too, and (marker `engines`, `make test-all`) in two incremental
phases: each table's first half of its landing days, then all of them; and hand-made payments with a
late file in a landing day already loaded."""

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
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from simulator.sample import sample_landing
from tests.conftest import NO_DATA_TESTS, REPO_ROOT, DbtEnv
from tests.warehouse.engines import compare_engines, compare_relation, in_duckdb_order, row_hashes

# Built at e321f69, before the engine macros, from the same sample world with the same salt: every
# relation's row count and row hash. Regenerate only for a model change meant to change the data.
# The semantic layer's three marts (dim_dates, fct_payment_outcomes, fct_demand_forecast_accuracy)
# were added later, every other entry left as it was.
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
    phases = [first_days(landing, root / "landing-first-half")] if in_phases else []
    stdout = build_on_spark(env, [*phases, landing], root / "spark-export")
    return TwoEngines(landing, env.database, root / "spark-export", stdout)


def build_on_spark(env: DbtEnv, phases: list[Path], export: Path, dbt_args: tuple[str, ...] = ()) -> str:
    """dbt run on Spark once per landing folder in `phases`, in one session, then every built
    relation exported to `export`; returns what it printed."""
    root = env.work_dir
    spark_env = {
        **env.environ(),
        "SPARK_WAREHOUSE_DIR": str(root / "spark-warehouse"),
        # built, exported and compared in one session: no metastore needed (warehouse/profiles.yml)
        "SPARK_CATALOG": "in-memory",
        "DBT_TARGET_PATH": str(root / "target-spark"),
        "DBT_LOG_PATH": str(root / "logs-spark"),
    }
    landings = [arg for landing in phases for arg in ("--landing", str(landing))]
    spark = subprocess.run(
        [sys.executable, "-m", "tests.spark_in_phases", *landings, "--export", str(export), *dbt_args],
        cwd=REPO_ROOT,
        env=spark_env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert spark.returncode == 0, spark.stdout[-4000:] + spark.stderr[-4000:]
    return spark.stdout


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


# A late file in a landing day Spark has loaded already: the run replaces that day, reads the loaded
# rows of other days sharing a key with it (a payment sent again) to deduplicate, and must not write
# them, or their own day's partition would be overwritten with those rows alone.
RELOADED_DAY_MODEL = "base_payments__payments"


def reloaded_day_landings(root: Path) -> tuple[Path, Path]:
    """Two landing zones of the sample world with hand-made payments, the second the first plus one
    file. First: day 1 holds payments A, B and C, day 2 a copy of A sent again. Second: a late
    file in day 2 holds payment D. Every payment's order has landed, so no day is reloaded for an
    orphan, and nothing else shares a key with day 1: the second run replaces day 2 alone."""
    sample = sample_landing(root / "sample", days=3)
    source = sample / "payments" / "payments"
    days = sorted(folder.name for folder in source.glob("date=*"))[:2]
    orders = pl.read_parquet(sample / "shop" / "orders" / "*" / "*.parquet", hive_partitioning=False)
    tables = {day: pq.read_table(next((source / day).glob("*.parquet"))) for day in days}

    def payments_of(day: str) -> list[str]:
        """The day's payments sent once, whose order has landed."""
        frame = pl.from_arrow(tables[day]).filter(pl.col("order_id").is_in(orders["order_id"].implode()))
        return frame.filter(pl.len().over("payment_id") == 1)["payment_id"].to_list()

    a, b, c = payments_of(days[0])[:3]
    d = next(payment for payment in payments_of(days[1]) if payment not in (a, b, c))

    def rows(day: str, ids: list[str]) -> pa.Table:
        table = tables[day]
        return table.filter(pc.is_in(table["payment_id"], value_set=pa.array(ids)))

    first, second = root / "landing-first", root / "landing-second"
    shutil.copytree(
        sample, first, ignore=lambda folder, _: ["payments"] if folder == str(source.parent) else []
    )
    for day, part, table in ((days[0], 0, rows(days[0], [a, b, c])), (days[1], 0, rows(days[0], [a]))):
        (first / source.relative_to(sample) / day).mkdir(parents=True, exist_ok=True)
        pq.write_table(table, first / source.relative_to(sample) / day / f"part-{part:05d}.parquet")
    shutil.copytree(first, second)
    pq.write_table(rows(days[1], [d]), second / source.relative_to(sample) / days[1] / "part-00001.parquet")
    return first, second


@pytest.fixture(scope="module")
def reloaded_day(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoEngines]:
    root = tmp_path_factory.mktemp("engines-reloaded-day")
    first, second = reloaded_day_landings(root)
    env = DbtEnv(landing_dir=second, database=root / "warehouse.duckdb", work_dir=root)
    selection = ("--select", f"+{RELOADED_DAY_MODEL}")
    env.in_process(f"dbt build {' '.join(selection)} {NO_DATA_TESTS}")
    stdout = build_on_spark(env, [first, second], root / "spark-export", selection)
    yield TwoEngines(second, env.database, root / "spark-export", stdout)


@pytest.mark.spark
@pytest.mark.engines
def test_a_late_file_in_a_loaded_day_replaces_that_day_alone(reloaded_day: TwoEngines) -> None:
    with duckdb.connect(str(reloaded_day.duckdb), read_only=True) as con:
        order = "_loaded_on, _source_file, _source_row_number"
        duck = con.sql(f"select * from staging.{RELOADED_DAY_MODEL} order by {order}").pl()
        differences = compare_engines(con, reloaded_day.spark_export)
    # the premise: A, B and C on day 1; A again (a duplicate) and D on day 2, in two files
    assert duck.group_by("_loaded_on").len().sort("_loaded_on")["len"].to_list() == [3, 2]
    assert duck["_is_duplicate"].to_list() == [False, False, False, True, False]
    assert duck["_source_file"].n_unique() == 3
    assert differences == {}


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
