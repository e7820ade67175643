"""The dbt project built on DuckDB and on local Spark from the same landing zone, side by side.

    python -m bench.spark [--scale default] [--scale M] [--work-dir data/bench] [--reuse-data]

For each scale: the world is generated (or reused: `make bench` writes the same worlds under the
same folders), then a fresh warehouse is built from it on each engine by one measured command:
DuckDB with `dbt build` (seeds, models, the snapshot), Spark with `python -m
orchestration.lib.spark_build --command build` (create_source_relations, seeds, models; one Spark
session, local[2]); data tests and unit tests are excluded on both (a timing of the SQL, not of
200 small test queries). Wall time and the peak resident memory of the command's process tree (the
JVM included) are measured; the row count of fct_payments and of feat_payment_fraud on each engine
shows they built the same thing. Writes bench/results/spark.json and prints a table
(docs/scale-out.md quotes it).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import duckdb

from bench.measure import run_measured
from bench.scales import SCALES
from bench.stages import DBT, PYTHON, REPO_ROOT, WAREHOUSE_DIR, Build, Workspace, generate
from orchestration.lib.markdown import markdown_table

RESULTS = REPO_ROOT / "bench" / "results" / "spark.json"
NO_TESTS = ("--exclude", "resource_type:test", "resource_type:unit_test")
COUNTED = ("marts.fct_payments", "features.feat_payment_fraud")


def duckdb_build(workspace: Workspace) -> dict:
    build = Build(workspace.root / "engine-duckdb")
    build.reset()
    env = workspace.environ(build)
    run_measured(
        "ml tables", [PYTHON, "-m", "ml", "tables"], env, REPO_ROOT, workspace.logs / "duckdb-tables.log"
    )
    argv = [DBT, "build", *NO_TESTS, "--target-path", str(build.dbt_target)]
    measured = run_measured("duckdb build", argv, env, WAREHOUSE_DIR, workspace.logs / "duckdb-build.log")
    with duckdb.connect(str(build.warehouse_db), read_only=True) as con:
        rows = {name: con.sql(f"select count(*) from {name}").fetchone()[0] for name in COUNTED}
    return {
        "engine": "duckdb",
        "wall_s": round(measured.wall_s, 1),
        "peak_rss_mb": round(measured.peak_rss_mb),
    } | rows


def spark_build(workspace: Workspace) -> dict:
    build = Build(workspace.root / "engine-spark")
    build.reset()
    env = workspace.environ(build) | {"SPARK_WAREHOUSE_DIR": str(build.root / "spark-warehouse")}
    env["DBT_TARGET_PATH"] = str(build.dbt_target)
    export = build.root / "counted"
    argv = [PYTHON, "-m", "orchestration.lib.spark_build", "--command", "build", *NO_TESTS]
    measured = run_measured("spark build", argv, env, REPO_ROOT, workspace.logs / "spark-build.log")
    # the row counts, read back in a second Spark session (not measured)
    count = [PYTHON, "-m", "bench.spark", "--count", str(export / "counts.json")]
    run_measured("spark count", count, env, REPO_ROOT, workspace.logs / "spark-count.log")
    rows = json.loads((export / "counts.json").read_text())
    return {
        "engine": "spark",
        "wall_s": round(measured.wall_s, 1),
        "peak_rss_mb": round(measured.peak_rss_mb),
    } | rows


def count_on_spark(out: Path) -> None:
    """The child of spark_build's count: the counted tables' rows, from the Spark warehouse."""
    from dbt.cli.main import dbtRunner

    # dbt's profile configures the session (warehouse folder, metastore); a cheap operation opens it
    dbtRunner().invoke(["debug", "--project-dir", str(WAREHOUSE_DIR), "--target", "spark"])
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.getOrCreate()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({name: spark.table(name).count() for name in COUNTED}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.spark", description=__doc__)
    parser.add_argument("--scale", action="append", choices=sorted(SCALES), help="default: M")
    parser.add_argument("--work-dir", type=Path, default=REPO_ROOT / "data" / "bench")
    parser.add_argument("--reuse-data", action="store_true")
    parser.add_argument("--count", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.count:
        count_on_spark(args.count)
        return 0
    results = []
    for name in args.scale or ["M"]:
        workspace = Workspace(SCALES[name], args.work_dir.resolve() / name)
        generate(workspace, args.reuse_data)
        for engine in (duckdb_build, spark_build):
            row = {"scale": name, "sim_args": SCALES[name].description, **engine(workspace)}
            print(json.dumps(row), flush=True)
            results.append(row)
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    columns = ["scale", "engine", "wall_s", "peak_rss_mb", *COUNTED]
    print(markdown_table(columns, [[row[c] for c in columns] for row in results]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
