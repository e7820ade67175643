"""Builds the warehouse on Spark and writes every built relation out as one Parquet file each.

Run as a module in its own process (`python -m tests.warehouse.spark_build OUT_DIR [dbt args]`):
the dbt invocations share one Spark session (dbt-spark's session method keeps it for the process),
so the JVM starts once, and the pytest process never hosts a JVM. The environment carries dbt's
paths and the Spark warehouse folder (SPARK_WAREHOUSE_DIR), as for `dbt --target spark`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
from dbt.cli.main import dbtRunner
from pyspark.sql import SparkSession

from tests.warehouse.engines import BUILT_SCHEMAS

WAREHOUSE_DIR = Path(__file__).resolve().parents[2] / "warehouse"

STEPS = (
    ("run-operation", "create_source_relations"),
    ("seed",),
    ("run",),
)


def build(extra_args: list[str]) -> None:
    runner = dbtRunner()
    for step in STEPS:
        args = [*step, "--project-dir", str(WAREHOUSE_DIR), "--target", "spark"]
        args += extra_args if step[0] == "run" else []
        started = time.monotonic()
        result = runner.invoke(args)
        outcome = "ok" if result.success else "FAILED"
        print(f"dbt {' '.join(args)}: {outcome} in {time.monotonic() - started:.1f} s")
        if not result.success:
            raise SystemExit(
                f"dbt {' '.join(args)} failed on Spark: {result.exception or 'see the log above'}"
            )


def export(out_dir: Path) -> int:
    spark = SparkSession.getActiveSession()
    assert spark is not None, "dbt-spark did not leave its session"
    out_dir.mkdir(parents=True, exist_ok=True)
    count = 0
    for schema in BUILT_SCHEMAS:
        if not spark.catalog.databaseExists(schema):
            continue
        for table in spark.catalog.listTables(schema):
            pq.write_table(
                spark.table(f"{schema}.{table.name}").toArrow(), out_dir / f"{schema}.{table.name}.parquet"
            )
            count += 1
    return count


def main(argv: list[str]) -> None:
    out_dir = Path(argv[0])
    build(argv[1:])
    print(f"exported {export(out_dir)} relations to {out_dir}")


if __name__ == "__main__":
    main(sys.argv[1:])
