"""The model registry: tables in the warehouse's `ml` schema, no server.

- `ml.model_registry`: one row per trained version (monotonic per model).
- `ml.model_alias_history`: append-only; every alias change, refusal and rollback, with why, and
  every retraining requested for a reason that found nothing changed (`kept`).
- `ml.model_aliases`: a view of the current champion/challenger per model, derived from the history,
  so "which version was live at time T" is a query on the history.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from ml.errors import ModelNotFoundError

ALIASES = ("champion", "challenger")

DDL = """
create schema if not exists ml;
create table if not exists ml.model_registry (
    model_name varchar not null,
    version integer not null,
    trained_at timestamp not null,
    train_start timestamp,
    training_cutoff timestamp not null,
    train_rows bigint not null,
    validation_rows bigint not null,
    test_rows bigint not null,
    data_fingerprint varchar not null,
    code_version varchar not null,
    spec_hash varchar not null,
    feature_signature json not null,
    parameters json not null,
    metrics json not null,
    artifact_path varchar not null,
    artifact_hash varchar not null,
    primary key (model_name, version)
);
create table if not exists ml.model_alias_history (
    model_name varchar not null,
    alias varchar not null,
    version integer,
    action varchar not null,
    reason varchar not null,
    changed_at timestamp not null
);
create or replace view ml.model_aliases as
with latest as (
    select
        *,
        row_number() over (partition by model_name, alias order by changed_at desc, version desc) as recency
    from ml.model_alias_history
    where action in ('set', 'rollback')
)
select model_name, alias, version, changed_at, reason
from latest
where recency = 1;
"""


@dataclass(frozen=True)
class RegisteredVersion:
    model_name: str
    version: int
    training_cutoff: datetime
    metrics: dict
    artifact_path: str  # relative to the models directory: <model>/<version>
    artifact_hash: str

    def artifact_dir(self, models_dir: Path) -> Path:
        """The version's artifact folder under `models_dir`, so a moved checkout, a restored backup
        or another machine reading the published registry finds it. The caller names the folder:
        there is no default to fall back on silently. A path an older registry recorded as
        absolute is used as it is."""
        path = Path(self.artifact_path)
        return path if path.is_absolute() else models_dir / path


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(DDL)


def versions(con: duckdb.DuckDBPyConnection, model_name: str) -> set[int]:
    rows = con.execute("select version from ml.model_registry where model_name = ?", [model_name]).fetchall()
    return {int(version) for (version,) in rows}


def next_version(con: duckdb.DuckDBPyConnection, model_name: str) -> int:
    (current,) = con.execute(
        "select coalesce(max(version), 0) from ml.model_registry where model_name = ?", [model_name]
    ).fetchone()
    return int(current) + 1


def same_inputs_version(
    con: duckdb.DuckDBPyConnection, model_name: str, spec_hash: str, data_fingerprint: str, code: str
) -> int | None:
    """The newest version trained from this spec, these training rows and this code: training again
    would write the same bytes (training is deterministic), so it is not done again."""
    row = con.execute(
        "select max(version) from ml.model_registry where model_name = ? and spec_hash = ? "
        "and data_fingerprint = ? and code_version = ?",
        [model_name, spec_hash, data_fingerprint, code],
    ).fetchone()
    return None if row[0] is None else int(row[0])


def register(con: duckdb.DuckDBPyConnection, row: dict) -> None:
    """Insert one version (the caller has written and verified its artifact first)."""
    columns = list(row)
    values = [
        json.dumps(v, sort_keys=True, default=str) if isinstance(v, dict | list) else v for v in row.values()
    ]
    placeholders = ", ".join("?" for _ in columns)
    con.execute(f"insert into ml.model_registry ({', '.join(columns)}) values ({placeholders})", values)


def get_version(con: duckdb.DuckDBPyConnection, model_name: str, version: int) -> RegisteredVersion:
    row = con.execute(
        "select model_name, version, training_cutoff, metrics, artifact_path, artifact_hash "
        "from ml.model_registry where model_name = ? and version = ?",
        [model_name, version],
    ).fetchone()
    if row is None:
        raise ModelNotFoundError(f"model {model_name!r} has no version {version}")
    return RegisteredVersion(row[0], row[1], row[2], json.loads(row[3]), row[4], row[5])


def alias_version(con: duckdb.DuckDBPyConnection, model_name: str, alias: str) -> int | None:
    row = con.execute(
        "select version from ml.model_aliases where model_name = ? and alias = ?", [model_name, alias]
    ).fetchone()
    return None if row is None else int(row[0])


def resolve(con: duckdb.DuckDBPyConnection, model_name: str, alias: str = "champion") -> RegisteredVersion:
    version = alias_version(con, model_name, alias)
    if version is None:
        raise ModelNotFoundError(f"model {model_name!r} has no {alias}; train it first")
    return get_version(con, model_name, version)


def record_alias(
    con: duckdb.DuckDBPyConnection,
    model_name: str,
    alias: str,
    version: int | None,
    action: str,
    reason: str,
    at: datetime,
) -> None:
    """Append to the history; `set`/`rollback` move the alias, `refused` only records the decision."""
    if alias not in ALIASES:
        raise ValueError(f"unknown alias {alias!r}")
    con.execute(
        "insert into ml.model_alias_history values (?, ?, ?, ?, ?, ?)",
        [model_name, alias, version, action, reason, at],
    )


def live_version_at(con: duckdb.DuckDBPyConnection, model_name: str, at: datetime) -> int | None:
    """The champion version in effect at time `at` (None before the first one)."""
    row = con.execute(
        "select version from ml.model_alias_history where model_name = ? and alias = 'champion' "
        "and action in ('set', 'rollback') and changed_at <= ? "
        "order by changed_at desc, version desc limit 1",
        [model_name, at],
    ).fetchone()
    return None if row is None else int(row[0])


def rollback(
    con: duckdb.DuckDBPyConnection, model_name: str, to_version: int, reason: str, at: datetime
) -> None:
    """Point the champion back at an earlier registered version."""
    get_version(con, model_name, to_version)  # raises if unknown
    record_alias(con, model_name, "champion", to_version, "rollback", reason, at)
