"""The same Dagster definitions on either warehouse engine (`WAREHOUSE_ENGINE`): the asset graph is
identical, and a run of `full_pipeline` on Spark builds, trains, scores and publishes what the same
run on DuckDB does.

The graph test runs in `make test`. The two runs (marker `engines`) take about 4 minutes alone and
7 beside the cross-engine test on two cores, so `make test-all` runs them and CI does not.
Both runs take the 20-day sample world through every asset of the job in one process each
(tests/job_in_process.py), without the dbt data tests: on Spark each costs a second or more, and
`make test` runs them on DuckDB (the whole Spark `dbt build` with its tests is in docs/scale-out.md).
The specs are the real ones with windows that fit 20 days.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from simulator.sample import sample_landing
from tests.conftest import REPO_ROOT
from tests.pipeline import PipelineEnv, tiny_specs
from tests.warehouse.engines import compare_relation

SAMPLE_DAYS = 20
SHORT_SPEC_CHANGES = {
    "payment_fraud": {
        "label.maturity_days": 3,
        "split.cutoff_days_before_latest": 2,
        "split.validation_days": 5,
        "split.test_days": 5,
        "lightgbm.params.min_data_in_leaf": 5,
        "gates.floors": {"auc_pr": 0.0, "auc_roc": 0.0},
    },
    "daily_demand": {
        "split.cutoff_days_before_latest": 2,
        "split.validation_days": 4,
        "split.test_days": 4,
        "gates.floors": {"wape": 10.0},
    },
}
# Columns that differ between any two runs (when and where a run wrote) or by engine by design: the
# hashes of a row's features and of a training frame are taken over the engine's column types
# (Spark's sums are decimal(38, 2), DuckDB's decimal(18, 2)), and the artifact holds its training
# frame's fingerprint; each engine compares with itself.
RUN_COLUMNS = frozenset({"scored_at", "computed_at", "changed_at", "trained_at", "artifact_path"})
ENGINE_HASH_COLUMNS = frozenset({"features_hash", "data_fingerprint", "artifact_hash"})

GRAPH = """
import json
from orchestration.definitions import defs
from orchestration.defs.domains import dbt_environ
graph = defs.resolve_asset_graph()
print(json.dumps({
    "assets": {
        key.to_user_string(): sorted(parent.to_user_string() for parent in graph.get(key).parent_keys)
        for key in graph.get_all_asset_keys()
    },
    "checks": sorted(check.to_user_string() for check in graph.asset_check_keys),
    "jobs": sorted(job.name for job in defs.resolve_all_job_defs()),
    "dbt_target": dbt_environ().get("DBT_TARGET", "default"),
}))
"""


@dataclass(frozen=True)
class EngineRun:
    env: PipelineEnv
    output: str
    returncode: int


def run_on(root: Path, engine: str) -> EngineRun:
    landing = sample_landing(root, days=SAMPLE_DAYS)
    specs = tiny_specs(root / "specs", SHORT_SPEC_CHANGES)
    env = PipelineEnv(landing, root / "warehouse.duckdb", root, specs)
    engine_env = {
        "WAREHOUSE_ENGINE": engine,
        "SPARK_WAREHOUSE_DIR": str(root / "spark-warehouse"),
        "SPARK_CATALOG": "in-memory",  # one run, one process: the session's catalog is enough
    }
    job = ["full_pipeline", "--without-dbt-tests", "--tags", env.landing_tags()]
    result = subprocess.run(
        [sys.executable, "-m", "tests.job_in_process", *job],
        cwd=REPO_ROOT,
        env={**env.environ(), **engine_env},
        capture_output=True,
        text=True,
        timeout=1200,
    )
    return EngineRun(env, result.stdout[-6000:] + result.stderr[-6000:], result.returncode)


@pytest.fixture(scope="module")
def engine_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, EngineRun]]:
    root = tmp_path_factory.mktemp("engine-switch")
    yield {engine: run_on(root / engine, engine) for engine in ("duckdb", "spark")}


def graph_on(engine: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", GRAPH],
        cwd=REPO_ROOT,
        env={**os.environ, "WAREHOUSE_ENGINE": engine},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_asset_graph_is_the_same_on_both_engines_and_only_dbt_target_differs() -> None:
    duck, spark = graph_on("duckdb"), graph_on("spark")
    assert (duck.pop("dbt_target"), spark.pop("dbt_target")) == ("default", "spark")
    assert duck == spark
    assert len(duck["assets"]) > 50 and duck["checks"] and "full_pipeline" in duck["jobs"]


def published(run: EngineRun) -> dict[str, object]:
    with duckdb.connect(str(run.env.analytics), read_only=True) as con:
        tables = [
            name
            for (name,) in con.execute(
                "select table_schema || '.' || table_name from information_schema.tables order by 1"
            ).fetchall()
        ]
        return {table: con.sql(f"select * from {table}").pl() for table in tables}


@pytest.mark.spark
@pytest.mark.engines
def test_the_pipeline_on_spark_publishes_what_it_publishes_on_duckdb(
    engine_runs: dict[str, EngineRun],
) -> None:
    for engine, run in engine_runs.items():
        assert run.returncode == 0, f"{engine}:\n{run.output}"
    duck, spark = published(engine_runs["duckdb"]), published(engine_runs["spark"])
    assert sorted(duck) == sorted(spark)
    differences = {}
    for table, rows in duck.items():
        skipped = [c for c in rows.columns if c in RUN_COLUMNS | ENGINE_HASH_COLUMNS]
        difference = compare_relation(rows.drop(skipped), spark[table].drop(skipped))
        if difference:
            differences[table] = difference
    assert differences == {}
    # the models were trained and scored on rows, and the marts on the scores have rows
    for table in ("ml.payment_fraud_scores", "ml.daily_demand_scores", "marts.fraud_review_queue"):
        assert spark[table].height > 0, table
    assert spark["ml.model_registry"].height == 2


@pytest.mark.spark
@pytest.mark.engines
def test_on_spark_the_ml_layer_writes_to_spark_and_no_duckdb_build_file_is_made(
    engine_runs: dict[str, EngineRun],
) -> None:
    run = engine_runs["spark"]
    assert run.returncode == 0, run.output
    assert not run.env.database.exists()
    scores = run.env.work_dir / "spark-warehouse" / "ml.db" / "payment_fraud_scores"
    assert list(scores.glob("*.parquet")), "the scores are not in Spark's ml table"
