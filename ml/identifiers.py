"""SQL identifiers that come from specs or config: validated before they reach any SQL string."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def is_identifier(name: object) -> bool:
    """True for a lower-case SQL identifier: letters, digits, underscores, not starting with a digit."""
    return isinstance(name, str) and bool(_IDENTIFIER.match(name))


def quote(name: str) -> str:
    """A validated identifier, double-quoted. Raises ValueError for anything else."""
    if not is_identifier(name):
        raise ValueError(f"not a safe SQL identifier: {name!r}")
    return f'"{name}"'


def quote_relation(relation: str) -> str:
    """`schema.table` (or `table`) with each part validated and quoted."""
    parts = relation.split(".")
    if not 1 <= len(parts) <= 2:
        raise ValueError(f"not a relation name (schema.table): {relation!r}")
    return ".".join(quote(part) for part in parts)


def relation_exists(con: duckdb.DuckDBPyConnection, relation: str) -> bool:
    """Whether `schema.table` exists in the connection's database, as a table or a view (the
    published copy of a view is a table)."""
    schema, table = relation.split(".")
    found = con.execute(
        "select count(*) from (select schema_name, table_name from duckdb_tables() "
        "union all select schema_name, view_name from duckdb_views()) "
        "where schema_name = ? and table_name = ?",
        [schema, table],
    ).fetchone()
    return bool(found[0])
