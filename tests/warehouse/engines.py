"""Building the tiny world's warehouse on DuckDB and on Spark, and reading both back to compare."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
from polars.testing import assert_frame_equal

from orchestration.lib.spark_build import BUILT_SCHEMAS


def built_relations(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "select table_schema || '.' || table_name from information_schema.tables"
        " where table_schema in (select unnest(?)) order by 1",
        [list(BUILT_SCHEMAS)],
    ).fetchall()
    return [name for (name,) in rows]


def row_hashes(con: duckdb.DuckDBPyConnection, landing_dir: Path) -> dict[str, dict[str, object]]:
    """Per built relation: its row count and an order-independent hash of its rows (each row's text
    form, hashed, the hashes sorted and hashed again). The landing folder's path, which a
    quarantined row's record carries, is written as $LANDING so that the hash does not depend on it."""
    hashes: dict[str, dict[str, object]] = {}
    for relation in built_relations(con):
        rows, digest = con.execute(
            "with row_digests as ("
            f"    select md5(replace(cast(t as varchar), ?, '$LANDING')) as digest from {relation} as t"
            ") select count(*), md5(coalesce(string_agg(digest, '' order by digest), '')) from row_digests",
            [str(landing_dir)],
        ).fetchone()
        hashes[relation] = {"rows": rows, "hash": digest}
    return hashes


# Columns whose text differs by engine by design: a quarantined row's record as JSON (DuckDB's and
# Spark's to_json differ in spacing and number format; the row's file and line identify it on both).
ENGINE_TEXT_COLUMNS = frozenset({"_source_row", "source_row"})
FLOAT_TOLERANCE = 1e-9
# Spark keeps a table's partition columns last: the base models' landing day (their other columns
# keep DuckDB's order). Only this column may be elsewhere on Spark, and only last.
SPARK_PARTITION_COLUMNS = ("_loaded_on",)


def in_duckdb_order(duck: pl.DataFrame, spark: pl.DataFrame) -> pl.DataFrame:
    """Spark's relation with a partition column moved back to where DuckDB has it, when that is the
    only difference in column order; else as it is."""
    moved = [c for c in SPARK_PARTITION_COLUMNS if c in duck.columns]
    if moved and spark.columns == [c for c in duck.columns if c not in moved] + moved:
        return spark.select(duck.columns)
    return spark


def compare_relation(duck: pl.DataFrame, spark: pl.DataFrame) -> str | None:
    """None when the two relations hold the same rows: the same columns in the same order, equal
    values (floats within FLOAT_TOLERANCE, types compared by value), in any row order."""
    if duck.columns != spark.columns:
        return f"columns differ: {duck.columns} vs {spark.columns}"
    if duck.height != spark.height:
        return f"{duck.height} rows on DuckDB, {spark.height} on Spark"
    columns = [c for c in duck.columns if c not in ENGINE_TEXT_COLUMNS]
    duck, spark = duck.select(columns), spark.select(columns)
    spark = spark.cast({c: duck.schema[c] for c in columns if spark.schema[c] != duck.schema[c]}, strict=True)
    exact = [c for c in columns if not duck.schema[c].is_float()]
    duck, spark = duck.sort(exact, nulls_last=True), spark.sort(exact, nulls_last=True)
    try:
        assert_frame_equal(duck, spark, check_exact=False, rel_tol=0, abs_tol=FLOAT_TOLERANCE)
    except AssertionError as exc:
        return str(exc).splitlines()[0]
    return None


def compare_engines(con: duckdb.DuckDBPyConnection, spark_export: Path) -> dict[str, str]:
    """Every relation built on DuckDB against Spark's export of it: {relation: what differs}."""
    differences: dict[str, str] = {}
    for relation in built_relations(con):
        exported = spark_export / f"{relation}.parquet"
        if not exported.exists():
            differences[relation] = "not built on Spark"
            continue
        duck = con.sql(f"select * from {relation}").pl()
        difference = compare_relation(duck, in_duckdb_order(duck, pl.read_parquet(exported)))
        if difference:
            differences[relation] = difference
    return differences
