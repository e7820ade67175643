"""Building the tiny world's warehouse on DuckDB and on Spark, and reading both back to compare."""

from __future__ import annotations

import duckdb

# The schemas dbt builds (the landing relations and the ml layer's tables are inputs, not output).
BUILT_SCHEMAS = ("reference", "staging", "intermediate", "marts", "features", "audit")


def built_relations(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "select table_schema || '.' || table_name from information_schema.tables"
        " where table_schema in (select unnest(?)) order by 1",
        [list(BUILT_SCHEMAS)],
    ).fetchall()
    return [name for (name,) in rows]


def row_hashes(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, object]]:
    """Per built relation: its row count and an order-independent hash of its rows (each row's text
    form, hashed, the hashes sorted and hashed again)."""
    hashes: dict[str, dict[str, object]] = {}
    for relation in built_relations(con):
        rows, digest = con.execute(
            f"with row_digests as (select md5(cast(t as varchar)) as digest from {relation} as t)"
            " select count(*), md5(coalesce(string_agg(digest, '' order by digest), '')) from row_digests"
        ).fetchone()
        hashes[relation] = {"rows": rows, "hash": digest}
    return hashes
