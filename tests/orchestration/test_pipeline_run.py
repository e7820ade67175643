"""The whole graph, headless through Dagster, on a tiny generated world (`make run`'s command): it
leaves both the build file and the published file; a failing dbt test stops training and
publishing and leaves the previous published snapshot in place."""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import TEST_PII_SALT
from tests.pipeline import PipelineRun

pytestmark = pytest.mark.slow


def test_full_pipeline_builds_trains_scores_and_publishes(tiny_pipeline_run: PipelineRun) -> None:
    env, log = tiny_pipeline_run.env, tiny_pipeline_run.log
    assert tiny_pipeline_run.result.returncode == 0, log[-10000:]
    # every landing day in one run; dbt in three phases (warehouse/selectors.yml), one invocation
    # each, the daily models of the whole range in one of them
    days = sorted({p.name.removeprefix("date=") for p in env.landing_dir.glob("*/*/date=*")})
    dagster_line = r"^\S+ \S+ \+0000 - dagster - INFO - .* - "  # not Python logging's copy of it
    commands = re.findall(dagster_line + r"Running dbt command: `([^`]*)`", log, re.M)
    assert [command.split("--selector ")[-1].split()[0] for command in commands] == [
        "before_ml",
        "daily",
        "after_scores",
    ], commands
    # unit tests test the SQL (make test runs them), not the data: scheduled runs leave them out
    finished = re.findall(r"^Finished running (.*) in \d+ hours", log, re.M)
    assert len(finished) == 3 and not [line for line in finished if "unit test" in line], finished
    assert f"landing days {days[0]} to {days[-1]} in one dbt invocation" in log
    assert f"scoring landing days {days[0]} to {days[-1]} in one pass" in log
    assert "did not yield or return expected outputs" not in log  # every planned check ran
    assert env.database.exists()
    with duckdb.connect(str(env.analytics), read_only=True) as con:
        schemas = {s for (s,) in con.sql("select distinct schema_name from duckdb_tables()").fetchall()}
        assert schemas == {"marts", "ml", "metrics"}  # metrics: the semantic layer's saved queries
        payments, scored = con.sql(
            "select count(*), count(scores.payment_id) from marts.fct_payments as payments "
            "left join ml.payment_fraud_scores as scores using (payment_id) where payments.is_authorized"
        ).fetchone()
        assert scored == payments > 0  # every authorized payment of every landing day is scored
        versions = con.sql(
            "select model_name, version from ml.model_aliases where alias = 'champion'"
        ).fetchall()
    assert sorted(versions) == [("daily_demand", 1), ("payment_fraud", 1)]


def test_make_run_prints_a_line_per_step_and_a_summary(tiny_pipeline_run: PipelineRun) -> None:
    output = tiny_pipeline_run.output
    assert tiny_pipeline_run.result.returncode == 0, output[-5000:]
    lines = output.splitlines()
    assert len(lines) < 60, output  # Dagster's events are in the log file, not here
    steps = [line.split()[1] for line in lines if line.startswith("  ok ")]
    assert steps[0] == "audit__landing_inventory" and steps[-1] == "publish__analytics_duckdb", steps
    assert {"warehouse_dbt_before_ml", "warehouse_dbt_daily", "warehouse_dbt_after_scores"} <= set(steps)
    before_ml = next(line for line in lines if "warehouse_dbt_before_ml" in line)
    assert re.search(r"\d+ tables, [\d,]+ rows; checks \d+ passed, 0 failed", before_ml), before_ml
    assert re.search(r"payment_fraud_model .* v1 champion", output), output
    assert re.search(r"marts\.fct_payments +[\d,]+ rows", output), output
    assert re.search(r"Champion payment_fraud v1, test auc_pr 0\.\d{4}", output), output
    (log,) = re.findall(r"Full log: (\S+)", output)[-1:]
    assert "STEP_SUCCESS" in Path(log).read_text()  # the full event stream is there


def test_a_second_make_run_with_nothing_new_runs_nothing(tiny_pipeline_run: PipelineRun) -> None:
    """Nothing landed, nothing changed: no run, no new model version, the same published file."""
    env = tiny_pipeline_run.env
    assert tiny_pipeline_run.result.returncode == 0
    published, built = env.analytics.stat(), env.database.stat()
    with env.instance() as instance:
        runs = len(instance.get_runs())
    again = env.make_run("full_pipeline")
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.startswith("Nothing new since run "), again.stdout
    assert (env.analytics.stat().st_mtime_ns, env.database.stat().st_mtime_ns) == (
        published.st_mtime_ns,
        built.st_mtime_ns,
    )
    with env.instance() as instance:
        assert len(instance.get_runs()) == runs


def test_no_secret_reaches_an_artifact_or_a_log(tiny_pipeline_run: PipelineRun) -> None:
    """Issue 12: the PII salt was written in clear into the compiled SQL of every dbt invocation
    (and so into dbt.log). It reaches DuckDB as a session variable now; it must not be in any file
    a run leaves: dbt's target and log paths, the Dagster home (event logs, compute logs)."""
    env = tiny_pipeline_run.env
    salt = TEST_PII_SALT.encode()
    roots = [env.work_dir / "target", env.work_dir / "logs", env.run_logs, env.dagster_home]
    files = [path for root in roots for path in root.rglob("*") if path.is_file()]
    assert len(files) > 50  # the run left its artifacts there
    assert [path for path in files if salt in path.read_bytes()] == []
    # and the salt was in effect: the emails are hashed with it, not with the default
    with duckdb.connect(str(env.database), read_only=True) as con:
        hashed_with = con.execute(
            "select count(*) filter (where dim.email_hash = sha256(? || lower(trim(base.email)))), "
            "count(*) filter (where dim.email_hash = sha256('local-dev-salt' || lower(trim(base.email)))) "
            "from marts.dim_customers as dim inner join staging.base_crm__customers as base "
            "on dim.customer_id = base.customer_id",
            [TEST_PII_SALT],
        ).fetchone()
    assert hashed_with[0] > 0 and hashed_with[1] == 0, hashed_with


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_failing_dbt_test_blocks_training_and_publishing(
    tiny_pipeline_run: PipelineRun, tmp_path: Path
) -> None:
    assert tiny_pipeline_run.result.returncode == 0
    env = tiny_pipeline_run.env.copy_to(tmp_path)
    published = sha256(env.analytics)
    # A defect no single row shows: one more line for an existing USD order, in GBP. Staging accepts
    # the row; the test that every order has one currency fails, and must stop everything after it.
    with duckdb.connect(str(env.database), read_only=True) as con:
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
    day_folder = env.landing_dir / "shop" / "order_items" / f"date={loaded_on}"
    pq.write_table(line, day_folder / "part-00099.parquet")  # a new file: the copy's links stay intact
    result = env.make_run("full_pipeline")  # a new file: not the inputs of the last run
    assert result.returncode != 0
    # what the person sees: the failing step, the failing test and where the full log is
    test = "accepted_values_int_order_items_aggregated_currency_count"
    check = f"intermediate/int_order_items_aggregated:{test}"
    assert re.search(r"^  FAILED +warehouse_dbt_before_ml", result.stdout, re.M), result.stdout
    assert f"check failed: {check}" in result.stdout, result.stdout
    assert "full_pipeline FAILED after" in result.stdout and "Full log: " in result.stdout
    assert sha256(env.analytics) == published  # analysts keep the last good snapshot
    with duckdb.connect(str(env.database), read_only=True) as con:
        assert con.sql("select max(version) from ml.model_registry").fetchone()[0] == 1  # no training
