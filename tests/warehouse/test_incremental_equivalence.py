"""Incremental runs build what a full refresh builds (issue 13).

One world, two warehouses with the same champion:
- incremental: a full build of the first N-k landing days, a model trained and scored on them, then
  the k last days landing one at a time, each followed by what a daily run does (dbt up to the
  features with the day's landing-day variables, scoring the day, the marts on the scores);
- full: a copy of that warehouse (same registry and champion) rebuilt with `--full-refresh` from the
  whole landing zone, every row scored again.

Every table the warehouse builds (staging, intermediate, marts, features, quarantine) and both score
tables must hold the same rows, compared row by row (EXCEPT ALL both ways); only `scored_at`, the
time of the scoring run, is left out. The k days include late files and re-sent files (checked), so
the deduplication, the orphan repair, the feature lookback and the rescoring of changed features are
all exercised.

The daily runs build with their data tests and without dbt's unit tests, as `daily_refresh` does:
a data test failing on an incremental state fails the fixture. The first build and the full-refresh
reference skip the data tests (NO_DATA_TESTS): they only set up and compare, and
tests/warehouse/test_dbt_build.py runs every test on a built warehouse.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from tests.conftest import NO_DATA_TESTS, DbtEnv, generate_world
from tests.pipeline import TINY_PIPELINE, tiny_specs

HELD_BACK_DAYS = 3
WORLD = {**TINY_PIPELINE, "days": 90, "defect_rate": 0.03}
RUN_CONTEXT_COLUMNS = ("scored_at",)
COMPARED_SCHEMAS = ("staging", "intermediate", "marts", "features", "quarantine", "audit")
SCORE_TABLES = ("ml.payment_fraud_scores", "ml.daily_demand_scores")


@dataclass(frozen=True)
class Warehouses:
    incremental: DbtEnv
    full: DbtEnv
    held_back: list[str]


def _landing_days(landing: Path) -> list[str]:
    return sorted({folder.name for folder in landing.glob("*/*/date=*")})


def _copy_days(source: Path, target: Path, days: set[str]) -> None:
    for folder in source.glob("*/*/date=*"):
        if folder.name in days:
            shutil.copytree(folder, target / folder.relative_to(source))


# as the Dagster assets build (BUILD_FLAGS in orchestration/defs/dbt/assets.py): dbt's unit tests
# test the SQL, not the data, and tests/warehouse/test_dbt_build.py runs them
DAILY_BUILD = "dbt build --exclude-resource-type unit_test"


def _daily_run(env: DbtEnv, day: str) -> None:
    """What `daily_refresh` runs for one landing day, phase by phase, in one process as it does."""
    env.in_process(
        f"{DAILY_BUILD} --selector before_ml",
        f"LANDING_DAY_FROM={day} LANDING_DAY_TO={day} {DAILY_BUILD} --selector daily",
        f"ml score payment_fraud --days {day} {day}",
        "ml score daily_demand",
        f"{DAILY_BUILD} --selector after_scores",
    )


@pytest.fixture(scope="module")
def warehouses(tmp_path_factory: pytest.TempPathFactory) -> Warehouses:
    root = tmp_path_factory.mktemp("incremental")
    landing, oracle = generate_world(root / "world", **WORLD)
    shutil.rmtree(oracle)
    days = _landing_days(landing)
    held_back = days[-HELD_BACK_DAYS:]
    settings = {"MODEL_SPECS_DIR": str(tiny_specs(root / "specs"))}

    incremental = DbtEnv(
        root / "inc" / "landing", root / "inc" / "warehouse.duckdb", root / "inc", settings=settings
    )
    _copy_days(landing, incremental.landing_dir, set(days) - set(held_back))
    incremental.in_process(
        "ml tables",
        f"dbt build {NO_DATA_TESTS}",
        "ml train",
        "ml score",
        f"dbt build --selector after_scores {NO_DATA_TESTS}",
    )
    for folder in held_back:
        _copy_days(landing, incremental.landing_dir, {folder})
        _daily_run(incremental, folder.removeprefix("date="))

    full = DbtEnv(
        incremental.landing_dir, root / "full" / "warehouse.duckdb", root / "full", settings=settings
    )
    full.work_dir.mkdir()
    shutil.copy(incremental.database, full.database)
    shutil.copytree(incremental.models_dir, full.models_dir)
    full.in_process(
        f"dbt build --full-refresh --exclude source:ml+ {NO_DATA_TESTS}",
        "ml score",
        f"dbt build --full-refresh --selector after_scores {NO_DATA_TESTS}",
    )
    return Warehouses(incremental, full, [day.removeprefix("date=") for day in held_back])


def _built_tables(database: Path) -> list[str]:
    schemas = ", ".join(f"'{schema}'" for schema in COMPARED_SCHEMAS)
    with duckdb.connect(str(database), read_only=True) as con:
        rows = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            f"where table_type = 'BASE TABLE' and table_schema in ({schemas}) order by 1"
        ).fetchall()
    return [name for (name,) in rows]


def test_the_held_back_days_hold_late_and_resent_files(warehouses: Warehouses) -> None:
    """The k days exercise what incremental loading can get wrong: payments sent again in a later
    file, and payments (and orders) arriving in a later day's file than their own."""
    days = ", ".join(f"date '{day}'" for day in warehouses.held_back)
    landing = warehouses.incremental.landing_dir
    with duckdb.connect() as con:
        resent, late = con.execute(
            f"""
            with rows as (
                select
                    payment_id, filename, cast(date as date) as landing_day,
                    cast(paid_at as timestamptz) as paid_at
                from read_parquet('{landing}/payments/payments/*/*.parquet', hive_partitioning = true,
                    filename = true, union_by_name = true)
            ),
            held_back as (select * from rows where landing_day in ({days}))
            select
                count(*) filter (where exists (
                    select 1 from rows as other
                    where other.payment_id = held_back.payment_id and other.filename <> held_back.filename
                )),
                count(*) filter (where cast(paid_at as date) < landing_day - 1)
            from held_back
            """
        ).fetchone()
    assert resent > 0 and late > 0, (resent, late)


def test_the_daily_runs_built_the_same_tables(warehouses: Warehouses) -> None:
    tables = _built_tables(warehouses.incremental.database)
    assert tables == _built_tables(warehouses.full.database)
    expected = {"marts.fct_payments", "features.feat_payment_fraud", "staging.base_payments__payments"}
    assert expected <= set(tables)


def _count(con: duckdb.DuckDBPyConnection, query: str) -> int:
    (rows,) = con.execute(f"select count(*) from ({query})").fetchone()
    return int(rows)


def _differences(warehouses: Warehouses, table: str) -> tuple[int, int, int, int, list[tuple]]:
    with duckdb.connect(str(warehouses.incremental.database), read_only=True) as con:
        con.execute(f"attach '{warehouses.full.database}' as full_refresh (read_only)")
        columns = [
            row[0] for row in con.execute(f"describe {table}").fetchall() if row[0] not in RUN_CONTEXT_COLUMNS
        ]
        select = ", ".join(f'"{column}"' for column in columns)
        incremental, full = f"select {select} from {table}", f"select {select} from full_refresh.{table}"
        rows, full_rows = _count(con, incremental), _count(con, full)
        only_incremental = _count(con, f"{incremental} except all {full}")
        only_full = _count(con, f"{full} except all {incremental}")
        sample = con.execute(f"({incremental} except all {full}) limit 3").fetchall()
    return rows, full_rows, only_incremental, only_full, sample


@pytest.mark.parametrize("schema", [*COMPARED_SCHEMAS, "ml"])
def test_incremental_runs_equal_a_full_refresh(warehouses: Warehouses, schema: str) -> None:
    tables = (
        SCORE_TABLES
        if schema == "ml"
        else [t for t in _built_tables(warehouses.incremental.database) if t.startswith(f"{schema}.")]
    )
    report, compared = {}, 0
    for table in tables:
        rows, full_rows, only_incremental, only_full, sample = _differences(warehouses, table)
        compared += rows
        if (rows, only_incremental, only_full) != (full_rows, 0, 0):
            report[table] = f"{rows} rows (full {full_rows}), {only_incremental}/{only_full} differ: {sample}"
    assert not report, report
    assert compared > 0, f"every table of {schema} is empty: nothing compared"
