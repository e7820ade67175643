"""When a model should be retrained, decided from what the warehouse (or its published copy)
records: the latest monitoring verdicts of the champion, and the registry.

- a failing drift or performance check retrains once the data has moved `retrain_cooldown_days`
  past the newest training run's (so unchanged data never loops into retraining);
- a spec whose content no registered version was trained with retrains at once.
The promotion gate still decides whether the new version becomes champion."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb

from ml.identifiers import relation_exists
from ml.monitoring.tables import VERDICTS_TABLE
from ml.specs import ModelSpec


@dataclass(frozen=True)
class RetrainDecision:
    model_name: str
    reasons: tuple[str, ...]  # empty: no retraining
    waiting: tuple[str, ...]  # failing checks held back by the cooldown, with why
    key: str  # the same facts give the same key (one run per key)

    @property
    def retrain(self) -> bool:
        return bool(self.reasons)


def registry_published(con: duckdb.DuckDBPyConnection) -> bool:
    return relation_exists(con, "ml.model_registry") and relation_exists(con, "ml.model_aliases")


def latest_verdicts(con: duckdb.DuckDBPyConnection, model_name: str) -> list[tuple]:
    """(version, as_of, check, status, summary) of the newest monitoring pass of a model."""
    if not relation_exists(con, VERDICTS_TABLE):
        return []
    return con.execute(
        f"""
        select model_version, as_of, check_name, status, summary
        from {VERDICTS_TABLE}
        where model_name = ?
        qualify computed_at = max(computed_at) over ()
        order by check_name
        """,
        [model_name],
    ).fetchall()


def decide(con: duckdb.DuckDBPyConnection, spec: ModelSpec) -> RetrainDecision:
    registered = con.execute(
        "select version, training_cutoff, spec_hash from ml.model_registry "
        "where model_name = ? order by version",
        [spec.name],
    ).fetchall()
    champion = con.execute(
        "select version from ml.model_aliases where model_name = ? and alias = 'champion'", [spec.name]
    ).fetchone()
    if not registered or champion is None:
        return RetrainDecision(spec.name, ("no champion yet",), (), f"{spec.name}:initial")

    reasons: list[str] = []
    waiting: list[str] = []
    key_parts: list[str] = []
    hashes = {row[2] for row in registered}
    if spec.spec_hash not in hashes:
        reasons.append(f"spec changed ({spec.source_path}: no version trained with {spec.spec_hash[:12]})")
        key_parts.append(f"spec-{spec.spec_hash[:12]}")

    # the newest training run's view of time: its cutoff plus the days the spec held back
    newest_cutoff: datetime = max(row[1] for row in registered)
    trained_as_of = newest_cutoff + timedelta(days=spec.split.cutoff_days_before_latest)
    for version, verdict_as_of, check, status, summary in latest_verdicts(con, spec.name):
        if status != "fail" or version != champion[0]:
            continue
        moved = (verdict_as_of - trained_as_of).total_seconds() / 86_400
        if moved >= spec.monitoring.retrain_cooldown_days:
            reasons.append(f"{check} failed on v{version}: {summary}")
            key_parts.append(f"{check}-{verdict_as_of.date().isoformat()}")
        else:
            waiting.append(
                f"{check} failed on v{version}, but the data moved {moved:.1f} days since the newest "
                f"training run (cooldown {spec.monitoring.retrain_cooldown_days})"
            )
    key = f"{spec.name}:v{champion[0]}:{'+'.join(key_parts) or 'none'}"
    return RetrainDecision(spec.name, tuple(reasons), tuple(waiting), key)
