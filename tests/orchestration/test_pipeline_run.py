"""The whole graph, headless through Dagster, on a copy of the default world: it leaves both the
build file and the published file; a failing dbt test stops training and publishing."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import REPO_ROOT, DbtEnv
from tests.ml.conftest import TrainedWarehouse

pytestmark = pytest.mark.slow


def run_job(env: DbtEnv, job: str) -> subprocess.CompletedProcess[str]:
    """`make build`'s command: the job over every landing day present, as one run."""
    dagster = Path(sys.executable).with_name("dagster")
    environ = {
        **env.environ(),
        "ANALYTICS_DB": str(env.work_dir / "analytics.duckdb"),
        "DAGSTER_HOME": str(env.work_dir / "dagster_home"),
        "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true",
    }
    os.makedirs(environ["DAGSTER_HOME"], exist_ok=True)
    tags = subprocess.run(
        [sys.executable, "-m", "orchestration.lib.landing"],
        cwd=REPO_ROOT,
        env=environ,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return subprocess.run(
        [str(dagster), "job", "execute", "-m", "orchestration.definitions", "-j", job, "--tags", tags],
        cwd=REPO_ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=1200,
    )


def test_full_pipeline_builds_trains_scores_and_publishes(
    trained_warehouse: TrainedWarehouse, tmp_path: Path
) -> None:
    # From an empty database, as on a first `make run`: guards against a dbt test of a model built
    # after scoring being run (and failing on a missing table) in the first dbt step.
    env = DbtEnv(
        landing_dir=trained_warehouse.env.landing_dir, database=tmp_path / "fresh.duckdb", work_dir=tmp_path
    )
    result = run_job(env, "full_pipeline")
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-10000:]
    # every landing day in one run, and the daily models of the whole range in one dbt invocation
    days = sorted(p.name.removeprefix("date=") for p in env.landing_dir.glob("*/*/date=*"))
    daily_dbt = re.findall(r"Running dbt command: `[^`]*--vars (\{[^}]*\})", log)
    assert [json.loads(v) for v in daily_dbt] == [{"landing_day_from": days[0], "landing_day_to": days[-1]}]
    assert f"scoring landing days {days[0]} to {days[-1]} in one pass" in log
    assert "did not yield or return expected outputs" not in log  # every planned check ran
    with duckdb.connect(str(env.work_dir / "analytics.duckdb"), read_only=True) as con:
        schemas = {s for (s,) in con.sql("select distinct schema_name from duckdb_tables()").fetchall()}
        assert schemas == {"marts", "ml"}
        assert con.sql("select count(*) from marts.fraud_review_queue").fetchone()[0] > 0
        versions = con.sql(
            "select model_name, version from ml.model_aliases where alias = 'champion'"
        ).fetchall()
    assert sorted(versions) == [("daily_demand", 1), ("payment_fraud", 1)]


def test_a_failing_dbt_test_blocks_training_and_publishing(
    trained_warehouse: TrainedWarehouse, tmp_path: Path
) -> None:
    copy = trained_warehouse.copy_to(tmp_path)
    # A defect no single row shows: one more line for an existing USD order, in GBP. Staging accepts
    # the row; the test that every order has one currency fails, and must stop everything after it.
    landing = tmp_path / "landing"
    shutil.copytree(copy.landing_dir, landing, copy_function=os.link)
    with duckdb.connect(str(copy.database), read_only=True) as con:
        order_id, loaded_on = con.sql(
            "select order_id, loaded_on from marts.fct_orders "
            "where currency = 'USD' order by order_id limit 1"
        ).fetchone()
    line = pa.table(
        {
            "order_id": [order_id],
            "line_number": pa.array([99], pa.int32()),
            "product_id": ["P00001"],
            "quantity": pa.array([1], pa.int32()),
            "unit_price": pa.array([Decimal("10.00")], pa.decimal128(12, 2)),
            "currency": ["GBP"],
        }
    )
    pq.write_table(line, landing / "shop" / "order_items" / f"date={loaded_on}" / "part-00099.parquet")
    env = DbtEnv(landing_dir=landing, database=copy.database, work_dir=copy.work_dir)
    result = run_job(env, "full_pipeline")
    assert result.returncode != 0
    log = result.stdout + result.stderr
    assert "accepted_values_int_order_items_aggregated_currency_count" in log
    assert not (env.work_dir / "analytics.duckdb").exists()
    with duckdb.connect(str(env.database), read_only=True) as con:
        assert con.sql("select max(version) from ml.model_registry").fetchone()[0] == 1
