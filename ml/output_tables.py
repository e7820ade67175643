"""The ML layer's score tables, created by Python from the column types declared for them.

The declaration is dbt's sources marked `written_by: ml_layer` (retail's in
warehouse/models/staging/ml/_ml__sources.yml, another domain's in its own folder): the contract by
which the dbt models read the scores. The ML layer owns the `ml` schema: the scoring step creates its
table from that declaration, and `python -m ml tables` creates every table of the running domains
empty (the score tables, the registry, the monitoring tables), so a `dbt build` from the terminal
works before any model has been trained.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import duckdb
import yaml

from ml.identifiers import quote, quote_relation
from ml.settings import REPO_ROOT, RETAIL

MODELS_DIR = REPO_ROOT / "warehouse" / "models"
DOMAINS_DIR = MODELS_DIR / "domains"
SCHEMA = "ml"
WRITTEN_BY = "ml_layer"


def _domain(path: Path) -> str:
    return path.relative_to(DOMAINS_DIR).parts[0] if path.is_relative_to(DOMAINS_DIR) else RETAIL


@cache
def declarations() -> dict[str, tuple[str, Path, tuple[tuple[str, str], ...]]]:
    """`ml.<table>` -> (its domain, the YAML declaring it, its (column, type) pairs in order)."""
    tables = {}
    for path in sorted(MODELS_DIR.rglob("_*__sources.yml")):
        for source in yaml.safe_load(path.read_text()).get("sources", []):
            if (source.get("meta") or {}).get("written_by") != WRITTEN_BY:
                continue
            for table in source["tables"]:
                columns = tuple((col["name"], col["data_type"]) for col in table["columns"])
                tables[f"{source.get('schema', SCHEMA)}.{table['name']}"] = (_domain(path), path, columns)
    return tables


def declared_tables(domains: tuple[str, ...] | None = None) -> dict[str, tuple[tuple[str, str], ...]]:
    """`ml.<table>` -> its (column, type) pairs, in declared order (of the given domains, or all)."""
    return {
        table: columns
        for table, (domain, _, columns) in declarations().items()
        if domains is None or domain in domains
    }


def declared_in(table: str) -> str:
    """The YAML file that declares a table, relative to the repository (for error messages)."""
    declared = declarations().get(table)
    return str(declared[1].relative_to(REPO_ROOT)) if declared else "no source YAML"


def create_statement(table: str, replace: bool = False) -> str:
    """DDL of a declared table (`create or replace` or `create ... if not exists`)."""
    columns = declared_tables().get(table)
    if columns is None:
        raise KeyError(
            f"{table} is not declared: add it with its columns and data types to a source with "
            f"`meta: {{written_by: {WRITTEN_BY}}}` (retail's: "
            f"{(MODELS_DIR / 'staging' / 'ml' / '_ml__sources.yml').relative_to(REPO_ROOT)}), "
            "which is how dbt reads it"
        )
    body = ", ".join(f"{quote(name)} {data_type}" for name, data_type in columns)
    verb = "create or replace table" if replace else "create table if not exists"
    return f"{verb} {quote_relation(table)} ({body})"


def create_table(con: duckdb.DuckDBPyConnection, table: str, replace: bool = False) -> None:
    """The `ml` schema and a declared table in it (replaced, or created when missing)."""
    con.execute(f"create schema if not exists {SCHEMA}")
    con.execute(create_statement(table, replace=replace))


def ensure_tables(con: duckdb.DuckDBPyConnection, domains: tuple[str, ...] = (RETAIL,)) -> list[str]:
    """Create every declared score table of the domains that does not exist yet (empty); returns them."""
    tables = declared_tables(domains)
    for table in tables:
        create_table(con, table)
    return sorted(tables)
