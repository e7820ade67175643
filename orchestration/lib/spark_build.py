"""Builds the warehouse on Spark (dbt's `spark` target) in one process, and can export what it built.

    python -m orchestration.lib.spark_build [--export DIR] [--command run|build] [dbt selection args]

The three dbt invocations (create_source_relations, seed, then run or build) share one Spark
session, which dbt-spark's session method keeps for the process: the JVM starts once instead of
three times (20-40 s each here). From a terminal the same is three commands:
`dbt run-operation create_source_relations --target spark`, `dbt seed --target spark`,
`dbt build --target spark`.
The environment carries dbt's paths as for any target (LANDING_DIR, DBT_PROFILES_DIR, ...) and the
Spark warehouse folder (SPARK_WAREHOUSE_DIR). With --export, every relation dbt built is written to
DIR/<schema>.<name>.parquet (the cross-engine test compares them with DuckDB's).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ml.settings import settings
from orchestration.lib.engine import running_session
from orchestration.lib.spark_tables import catalog_tables, create_ml_tables

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

WAREHOUSE_DIR = Path(__file__).resolve().parents[2] / "warehouse"
# The schemas dbt builds (the landing relations and the ml layer's tables are its inputs).
BUILT_SCHEMAS = ("reference", "staging", "intermediate", "marts", "features", "quarantine", "audit")


def build(command: str, extra_args: list[str]) -> None:
    from dbt.cli.main import dbtRunner

    runner = dbtRunner()
    for step in (("run-operation", "create_source_relations"), ("seed",), (command,)):
        args = [*step, "--project-dir", str(WAREHOUSE_DIR), "--target", "spark"]
        args += extra_args if step[0] == command else []
        started = time.monotonic()
        result = runner.invoke(args)
        outcome = "ok" if result.success else "FAILED"
        print(f"dbt {' '.join(args)}: {outcome} in {time.monotonic() - started:.1f} s")
        if not result.success:
            raise SystemExit(
                f"dbt {' '.join(args)} failed on Spark: {result.exception or 'see the log above'}"
            )
        if step[0] == "run-operation":
            create_ml_tables(active_session(), settings().domains)


def active_session() -> SparkSession:
    spark = running_session()
    assert spark is not None, "dbt-spark did not leave its session"
    return spark


def export(out_dir: Path) -> int:
    import pyarrow.parquet as pq

    spark = active_session()
    out_dir.mkdir(parents=True, exist_ok=True)
    count = 0
    for schema in BUILT_SCHEMAS:
        if not spark.catalog.databaseExists(schema):
            continue
        for table in catalog_tables(spark, schema):
            pq.write_table(spark.table(f"{schema}.{table}").toArrow(), out_dir / f"{schema}.{table}.parquet")
            count += 1
    return count


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m orchestration.lib.spark_build",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--export", type=Path, help="write every built relation to DIR as Parquet")
    parser.add_argument("--command", choices=("run", "build"), default="build")
    args, dbt_args = parser.parse_known_args(argv)
    build(args.command, dbt_args)
    if args.export:
        print(f"exported {export(args.export)} relations to {args.export}")


if __name__ == "__main__":
    main(sys.argv[1:])
