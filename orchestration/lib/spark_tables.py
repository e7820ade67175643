"""The Spark warehouse's tables seen from DuckDB, and the ML layer's tables written back to Spark.

On Spark (`WAREHOUSE_ENGINE=spark`) every table dbt builds is a folder of Parquet files in Spark's
catalog. The ML layer's code and the publish step work through a DuckDB connection either way; on
Spark that connection is in memory and holds:

- each table of a schema dbt built (`features`, `marts`) as a view over the table's current
  Parquet files (the files Spark's catalog lists for it), its columns in Spark's order, partition
  columns typed as Spark declares them: nothing is copied until a query reads it;
- the `ml` schema's tables (scores, registry, monitoring, backtests) loaded from Spark into the
  tables the ML layer's own DDL declares, so their DuckDB types are the ones it writes on DuckDB.

What the ML layer changed in `ml` goes back to Spark afterwards, each changed table replaced whole
(`insert overwrite`, the table's Spark definition kept), a table Spark does not have yet created.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

import duckdb

from ml import registry
from ml.identifiers import quote, quote_relation
from ml.monitoring import tables as monitoring_tables
from ml.output_tables import SCHEMA as ML_SCHEMA
from ml.output_tables import declared_tables, ensure_tables

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# Spark's types of partition columns in DuckDB's names (hive partition values are text in paths)
PARTITION_TYPES = {"string": "varchar", "date": "date", "int": "integer", "bigint": "bigint"}


def catalog_tables(spark: SparkSession, schema: str) -> list[str]:
    """The names of a schema's tables and views in Spark's catalog, sorted; the session's temporary
    views are left out (`listTables` also lists them under every schema: dbt-spark's incremental
    runs leave `<model>__dbt_tmp` views behind)."""
    return sorted(t.name for t in spark.catalog.listTables(schema) if not t.isTemporary)


def spark_type(data_type: str) -> str:
    """A declared DuckDB type in Spark SQL: lists are arrays, no unsigned integers, no bare VARCHAR."""
    base = data_type.removesuffix("[]").replace("varchar", "string").replace("ubigint", "decimal(20, 0)")
    return f"array<{base}>" if data_type.endswith("[]") else base


def create_ml_tables(spark: SparkSession, domains: tuple[str, ...]) -> None:
    """The ml layer's declared tables of the running domains, empty when missing (as `python -m ml
    tables` does on DuckDB; dbt creates nothing in the ml schema)."""
    spark.sql(f"create schema if not exists {ML_SCHEMA}")
    for table, columns in declared_tables(domains).items():
        body = ", ".join(f"{name} {spark_type(data_type)}" for name, data_type in columns)
        spark.sql(f"create table if not exists {table} ({body}) using parquet")


def local_path(uri: str) -> str:
    """A file Spark lists (`file:/a/b%20c`) as a local path."""
    parsed = urlparse(uri)
    if parsed.scheme not in ("", "file"):
        raise ValueError(f"{uri}: only local files can be read from the ML layer here")
    return unquote(parsed.path)


def select_sql(spark: SparkSession, table: str) -> str | None:
    """A DuckDB query over the Spark table's Parquet files, columns in Spark's order; None when the
    table has no file yet (an empty table)."""
    files = sorted(local_path(uri) for uri in spark.table(table).inputFiles())
    if not files:
        return None
    columns = spark.catalog.listColumns(table)
    partitions = {c.name: PARTITION_TYPES.get(c.dataType, c.dataType) for c in columns if c.isPartition}
    options = ""
    if partitions:
        types = ", ".join(f"'{name}': '{data_type}'" for name, data_type in partitions.items())
        options = f", hive_partitioning = true, hive_types = {{{types}}}"
    listed = ", ".join(f"'{path}'" for path in files)
    return f"select {', '.join(quote(c.name) for c in columns)} from read_parquet([{listed}]{options})"


def expose(con: duckdb.DuckDBPyConnection, spark: SparkSession, schema: str) -> list[str]:
    """Every table of a Spark schema as a relation of the same name in the connection's current
    database: a view over its files, or an empty table with its columns. Returns the relations."""
    con.execute(f"create schema if not exists {quote(schema)}")
    exposed = []
    for table in catalog_tables(spark, schema):
        relation = f"{schema}.{table}"
        sql = select_sql(spark, relation)
        if sql is None:
            empty = spark.table(relation).limit(0).toArrow()  # noqa: F841 (read by DuckDB below)
            con.execute(f"create or replace table {quote_relation(relation)} as select * from empty")
        else:
            con.execute(f"create or replace view {quote_relation(relation)} as {sql}")
        exposed.append(relation)
    return exposed


def ml_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The base tables of the `ml` schema in the connection's current database (views are derived)."""
    rows = con.execute(
        "select table_name from duckdb_tables() where schema_name = ? "
        "and database_name = current_database() order by 1",
        [ML_SCHEMA],
    ).fetchall()
    return [f"{ML_SCHEMA}.{name}" for (name,) in rows]


def load_ml(con: duckdb.DuckDBPyConnection, spark: SparkSession, domains: tuple[str, ...]) -> list[str]:
    """The ml schema as the ML layer declares it (registry, monitoring, score tables), filled from
    Spark's ml tables; a table only Spark has (a backtest) is copied as Spark types it. Returns the
    tables loaded."""
    registry.ensure_schema(con)
    monitoring_tables.ensure_tables(con)
    ensure_tables(con, domains)
    declared = set(ml_tables(con))
    spark.sql(f"create schema if not exists {ML_SCHEMA}")
    loaded = []
    for table in catalog_tables(spark, ML_SCHEMA):
        relation = f"{ML_SCHEMA}.{table}"
        rows = spark.table(relation).toArrow()  # noqa: F841 (read by DuckDB below)
        if relation in declared:
            con.execute(f"insert into {quote_relation(relation)} by name select * from rows")
        else:
            con.execute(f"create or replace table {quote_relation(relation)} as select * from rows")
        loaded.append(relation)
    return loaded


def fingerprints(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, int]]:
    """Per ml table: (rows, the sum of its rows' hashes), to tell which tables a step changed."""
    prints = {}
    for relation in ml_tables(con):
        rows, total = con.execute(
            f"select count(*), coalesce(sum(hash(t)::hugeint), 0) from {quote_relation(relation)} t"
        ).fetchone()
        prints[relation] = (int(rows), int(total))
    return prints


def spark_ready_sql(con: duckdb.DuckDBPyConnection, relation: str) -> str:
    """The table's rows with the types Spark cannot take from Arrow spelled out: unsigned 64-bit
    integers as decimal(20, 0), JSON as text."""
    replaced = []
    for name, data_type in con.execute(
        f"select column_name, column_type from (describe {quote_relation(relation)})"
    ).fetchall():
        if data_type == "UBIGINT":
            replaced.append(f"cast({quote(name)} as decimal(20, 0)) as {quote(name)}")
        elif data_type == "JSON":
            replaced.append(f"cast({quote(name)} as varchar) as {quote(name)}")
    replace = f" replace ({', '.join(replaced)})" if replaced else ""
    return f"select *{replace} from {quote_relation(relation)}"


def write_back(con: duckdb.DuckDBPyConnection, spark: SparkSession, relations: Iterable[str]) -> list[str]:
    """Replace each Spark ml table with the connection's rows (columns matched by name, Spark's table
    definition kept); a table Spark lacks is created from the rows. Returns what was written."""
    written = []
    existing = set(catalog_tables(spark, ML_SCHEMA))
    for relation in relations:
        rows = spark.createDataFrame(con.sql(spark_ready_sql(con, relation)).to_arrow_table())
        name = relation.split(".", 1)[1]
        if name in existing:
            order = [c.name for c in spark.catalog.listColumns(relation)]
            rows.select(*order).write.insertInto(relation, overwrite=True)
        else:
            rows.write.format("parquet").saveAsTable(relation)
        written.append(relation)
    return written


def changed(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> list[str]:
    return sorted(relation for relation, value in after.items() if before.get(relation) != value)
