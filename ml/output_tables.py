"""The ML layer's score tables, created by Python from the column types declared for them.

The declaration is dbt's `ml` source (warehouse/models/staging/ml/_ml__sources.yml): the contract by
which the dbt models read the scores. The ML layer owns the `ml` schema: the scoring step creates its
table from that declaration, and `python -m ml tables` creates every table of the schema empty (the
score tables, the registry, the monitoring tables), so a `dbt build` from the terminal works before
any model has been trained.
"""

from __future__ import annotations

from functools import cache

import duckdb
import yaml

from ml.identifiers import quote, quote_relation
from ml.settings import REPO_ROOT

SOURCES_FILE = REPO_ROOT / "warehouse" / "models" / "staging" / "ml" / "_ml__sources.yml"
SCHEMA = "ml"


@cache
def declared_tables() -> dict[str, tuple[tuple[str, str], ...]]:
    """`ml.<table>` -> its (column, type) pairs, in declared order."""
    sources = yaml.safe_load(SOURCES_FILE.read_text())["sources"]
    (source,) = [s for s in sources if s["name"] == SCHEMA]
    return {
        f"{SCHEMA}.{table['name']}": tuple((col["name"], col["data_type"]) for col in table["columns"])
        for table in source["tables"]
    }


def create_statement(table: str, replace: bool = False) -> str:
    """DDL of a declared table (`create or replace` or `create ... if not exists`)."""
    columns = declared_tables().get(table)
    if columns is None:
        raise KeyError(
            f"{table} is not declared: add it with its columns and data types to the `ml` source in "
            f"{SOURCES_FILE.relative_to(REPO_ROOT)}, which is how dbt reads it"
        )
    body = ", ".join(f"{quote(name)} {data_type}" for name, data_type in columns)
    verb = "create or replace table" if replace else "create table if not exists"
    return f"{verb} {quote_relation(table)} ({body})"


def create_table(con: duckdb.DuckDBPyConnection, table: str, replace: bool = False) -> None:
    """The `ml` schema and a declared table in it (replaced, or created when missing)."""
    con.execute(f"create schema if not exists {SCHEMA}")
    con.execute(create_statement(table, replace=replace))


def ensure_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Create every declared score table that does not exist yet (empty); returns them all."""
    for table in declared_tables():
        create_table(con, table)
    return sorted(declared_tables())
