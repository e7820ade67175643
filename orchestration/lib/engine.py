"""What changes when the warehouse is built on Spark (`WAREHOUSE_ENGINE=spark`) instead of DuckDB.

The asset graph, the dbt project and the ML layer's code are the same for both engines. On Spark:

- dbt's target is `spark` (DBT_TARGET, so the in-process parse and every dbt step agree), and each
  dbt step first runs the `create_source_relations` operation (the landing views) and creates the
  ml layer's tables when missing;
- the ML assets work on an in-memory DuckDB connection over Spark's tables
  (orchestration/lib/spark_tables.py) and write the `ml` tables they changed back to Spark;
- the publish step copies Spark's `marts` and `ml` tables into the published DuckDB file.

Spark runs inside the run's process (dbt-spark's session method): the session dbt opens is the one
the ML assets and the publish use, so a run starts one JVM. A step that runs before any dbt step
(a retraining run) opens it the same way, through dbt, so it has the profile's configuration.

The Dagster definitions import this module; what it runs (pyspark, and polars through the ML
layer's table declarations) is imported inside the functions, when a run needs it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from ml.duckdb_limits import connect
from ml.settings import DOMAINS_VARIABLE, Settings, parse_domains
from orchestration.lib.dbt_target import target_root
from orchestration.lib.environment import WAREHOUSE_DIR

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

SPARK = "spark"
SPARK_TARGET = "spark"  # the output of warehouse/profiles.yml
SOURCE_OPERATION = ("run-operation", "create_source_relations")
SOURCES_FOLDER = "spark_sources"  # under dbt's target path, unless the caller names a folder
ML_INPUT_SCHEMAS = ("features",)  # what the ML layer reads besides its own ml schema
PUBLISHED_INPUT_SCHEMAS = ("marts",)  # with ml: what the publish step copies


class SparkOperationError(RuntimeError):
    """dbt's source operation on Spark failed."""


def dbt_target_environ(settings: Settings) -> dict[str, str]:
    """What dbt must see to use the engine's target (nothing for DuckDB, the profile's default)."""
    return {"DBT_TARGET": SPARK_TARGET} if settings.engine == SPARK else {}


def running_session() -> SparkSession | None:
    """The Spark session dbt-spark opened in this process, if any."""
    if "pyspark" not in sys.modules:
        return None
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    if SparkContext._active_spark_context is None:
        return None
    return SparkSession.builder.getOrCreate()


def prepare_spark(environ: dict[str, str]) -> SparkSession:
    """Run dbt's source operation on Spark in this process (opening the session when none is open)
    and create the ml layer's tables; returns the session."""
    from orchestration.lib import spark_tables
    from orchestration.lib.dbt_in_process import InProcessDbt

    executable = str(Path(sys.executable).with_name("dbt"))
    folder = str(target_root() / SOURCES_FOLDER)  # its artifacts apart from the steps' (and the manifest's)
    env = {
        **os.environ,
        "DBT_TARGET_PATH": folder,
        "DBT_LOG_PATH": folder,
        **environ,
        "DBT_TARGET": SPARK_TARGET,
        "DBT_PROJECT_DIR": str(WAREHOUSE_DIR),
        "DBT_PROFILES_DIR": os.environ.get("DBT_PROFILES_DIR", str(WAREHOUSE_DIR)),
    }
    process = InProcessDbt([executable, *SOURCE_OPERATION], env=env, cwd=WAREHOUSE_DIR)
    returncode = process.wait()
    lines = [line.decode(errors="replace") for line in process.stdout]
    session = running_session()
    if returncode != 0 or session is None:
        raise SparkOperationError(
            f"dbt {' '.join(SOURCE_OPERATION)} --target spark failed (exit {returncode}): "
            + "\n".join(lines[-20:])
        )
    spark_tables.create_ml_tables(session, domains_of(env))
    return session


def domains_of(environ: dict[str, str]) -> tuple[str, ...]:
    """The running domains, as the dbt steps see them (WAREHOUSE_DOMAINS)."""
    return parse_domains(environ.get(DOMAINS_VARIABLE, ""))


def spark_session(environ: dict[str, str]) -> SparkSession:
    """The run's session: dbt's, else one opened through dbt's source operation."""
    from orchestration.lib import spark_tables

    session = running_session()
    if session is None:
        return prepare_spark(environ)
    spark_tables.create_ml_tables(session, domains_of({**os.environ, **environ}))
    return session


@contextmanager
def ml_connection(settings: Settings, dbt_environ: dict[str, str]) -> Iterator[duckdb.DuckDBPyConnection]:
    """The connection the ML layer reads and writes the warehouse through: the build file on
    DuckDB; on Spark an in-memory database over Spark's tables, whose changed ml tables are
    written back to Spark when the block ends without an error (nothing is written otherwise)."""
    from orchestration.lib import spark_tables

    if settings.engine != SPARK:
        with connect(settings.warehouse_db) as con:
            yield con
        return
    spark = spark_session(dbt_environ)
    with connect(":memory:") as con:
        for schema in ML_INPUT_SCHEMAS:
            spark_tables.expose(con, spark, schema)
        spark_tables.load_ml(con, spark, domains_of(dbt_environ))
        before = spark_tables.fingerprints(con)
        yield con
        spark_tables.write_back(con, spark, spark_tables.changed(before, spark_tables.fingerprints(con)))


def attach_spark_build(con: duckdb.DuckDBPyConnection, dbt_environ: dict[str, str], alias: str) -> None:
    """Spark's published schemas as the database `alias` of `con` (marts as views over their
    files, ml loaded), for the publish step to copy as it copies the DuckDB build file."""
    from orchestration.lib import spark_tables

    spark = spark_session(dbt_environ)
    (current,) = con.execute("select current_database()").fetchone()
    con.execute(f"attach ':memory:' as {alias}")
    con.execute(f"use {alias}")
    try:
        for schema in PUBLISHED_INPUT_SCHEMAS:
            spark_tables.expose(con, spark, schema)
        spark_tables.load_ml(con, spark, domains_of(dbt_environ))
    finally:
        con.execute(f'use "{current}"')


def build_source(
    settings: Settings, dbt_environ: dict[str, str]
) -> Callable[[duckdb.DuckDBPyConnection], None] | None:
    """What the publish step attaches as `build`: None for the DuckDB build file (its default),
    Spark's tables on Spark."""
    if settings.engine != SPARK:
        return None
    return lambda con: attach_spark_build(con, dbt_environ, "build")


def row_counts(relations: list[str]) -> dict[str, int]:
    """Rows of Spark tables, counted by Spark (the session dbt opened)."""
    session = running_session()
    if session is None:
        raise SparkOperationError("no Spark session in this process to count rows with")
    return {relation: int(session.table(relation).count()) for relation in relations}
