"""Batch scoring with the champion.

Rows stream out of DuckDB as Arrow record batches, are scored batch by batch (by the compiled
forest when it agrees with LightGBM, see ml/scoring/compiled.py) and inserted into the output table inside
one transaction, so memory stays bounded whatever the table size (DuckDB spills uncommitted rows to
disk). The whole window replaces the table, or, for a daily spec scoring some landing days, those
days are deleted and reinserted: a rerun replaces, never duplicates, and a reader never sees half.

Each score keeps a hash of the feature values it was computed from (`features_hash`). A run for some
landing days also rescores every row of other days whose features changed since it was scored (the
incremental feature models recompute a payment whose trailing windows gained a late payment, or
whose chargeback arrived), scores rows that are new there, and deletes the scores of rows that are
gone: the table then equals a full scoring pass with the same champion.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa

from ml import registry
from ml.artifacts import load_artifact
from ml.dataset import encoded_matrix, event_sql, timestamp_sql, unique_columns
from ml.identifiers import quote, quote_relation, relation_exists
from ml.model import TrainedModel
from ml.output_tables import create_table, declared_in
from ml.scoring.attribution import PathAttribution, top_reasons
from ml.scoring.backtest import ensure_backtest
from ml.scoring.compiled import LightGBMPredictor, cache_dir, choose
from ml.specs import ModelSpec
from ml.write_failures import database_file, reported
from ml.write_points import reached

BATCH_ROWS = 262_144
PROBE_ROWS = 2_048  # rows of the first batch on which a compiled model must agree with LightGBM


@dataclass(frozen=True)
class ScoringResult:
    model_name: str
    version: int
    table: str
    rows: int
    flagged: int | None
    backtest_table: str
    backtest_rows: int
    engine: str = "lightgbm"  # what computed the trees' output: "lleaves" (compiled) or "lightgbm"


Days = tuple[date, date]


def scoring_where(spec: ModelSpec, cutoff: datetime) -> list[str]:
    """The rows to score: the spec's sample filter and window (a daily run narrows it further, see
    `_days_to_score_sql`)."""
    where = [quote(spec.sample_filter)] if spec.sample_filter else []
    if spec.scoring.window == "next_days":
        end = cutoff + timedelta(days=spec.scoring.next_days)
        where.append(f"{event_sql(spec)} > {timestamp_sql(cutoff)}")
        where.append(f"{event_sql(spec)} <= {timestamp_sql(end)}")
    return where


def _days_sql(spec: ModelSpec, days: Days) -> str:
    column, (first, last) = quote(spec.scoring.day_column), days
    return f"{column} between date '{first.isoformat()}' and date '{last.isoformat()}'"


def features_hash_sql(spec: ModelSpec, relation: str = "") -> str:
    """A hash of a feature row as stored: its key and every feature the model reads."""
    prefix = f"{relation}." if relation else ""
    columns = unique_columns(_key_columns(spec), spec.features.names)
    return f"hash({', '.join(prefix + quote(c) for c in columns)})"


def _same_features_sql(spec: ModelSpec) -> str:
    """A score (alias `scored`) computed from this feature row (alias `features`) as it is now."""
    keys = [f"scored.{quote(c)} = features.{quote(c)}" for c in spec.entity_key]
    return " and ".join([*keys, f"scored.features_hash = {features_hash_sql(spec, 'features')}"])


def _require_daily(spec: ModelSpec) -> None:
    if spec.scoring.window != "daily":
        raise ValueError(f"{spec.source_path}: scoring.window is {spec.scoring.window!r}, not daily")


def _days_to_score_sql(spec: ModelSpec, days: Days, scores_exist: bool) -> str:
    """The feature rows of the landing days, and those of other days not scored from their
    features as they are now (new, or changed since)."""
    if not scores_exist:
        return _days_sql(spec, days)
    scores = quote_relation(spec.output.table)
    return (
        f"({_days_sql(spec, days)} or not exists "
        f"(select 1 from {scores} as scored where {_same_features_sql(spec)}))"
    )


def _scores_to_replace_sql(spec: ModelSpec, days: Days, base_where: list[str]) -> str:
    """The scores of the landing days, and any score whose feature row changed or is gone."""
    features = quote_relation(spec.features_relation)
    current = " and ".join([*base_where, _same_features_sql(spec)])
    return f"{_days_sql(spec, days)} or not exists (select 1 from {features} as features where {current})"


def _key_columns(spec: ModelSpec) -> list[str]:
    """The columns copied from the features to the scores: the entity key, and the day for a daily spec."""
    day = (spec.scoring.day_column,) if spec.scoring.day_column else ()
    return unique_columns(spec.entity_key, day)


def reason_codes(
    model: TrainedModel,
    matrix: np.ndarray,
    top: int,
    attribution: PathAttribution | None,
    threads: int | None = None,
) -> list[list[str]]:
    """Names of the features pushing each row's score up the most: exact TreeSHAP contributions
    (LightGBM's pred_contrib), or, given the model's path attribution (`reason_method: path`), that.
    `threads`: LightGBM's threads for the call (default: all cores; the online API, scoring one row
    at a time, uses 1, since starting threads costs more than one row's contributions)."""
    options = {} if threads is None else {"num_threads": threads}
    if attribution is not None:
        contributions = attribution.contributions(model.booster.predict(matrix, pred_leaf=True, **options))
    else:
        contributions = model.booster.predict(matrix, pred_contrib=True, **options)[:, :-1]
    return top_reasons(contributions, model.spec.features.names, top)


@dataclass(frozen=True)
class FrameScores:
    """Scores of a features frame, and, for a model with an operating threshold, the flags and the
    reason codes of the flagged rows (None for the others)."""

    scores: np.ndarray
    flagged: np.ndarray | None
    reason_codes: list[list[str] | None] | None


def score_frame(
    model: TrainedModel,
    frame: pl.DataFrame,
    attribution: PathAttribution | None,
    threads: int | None = None,
) -> FrameScores:
    """Scores, flags and reason codes of a frame holding the model's features (numeric ones as
    Float64, categorical ones as strings): what batch scoring and the online API share. `threads`
    as in `reason_codes`."""
    matrix = encoded_matrix(frame, model.codebook, model.spec.features.names)
    return score_matrix(model, matrix, attribution, threads)


def score_matrix(
    model: TrainedModel,
    matrix: np.ndarray,
    attribution: PathAttribution | None,
    threads: int | None = None,
) -> FrameScores:
    """`score_frame` of the frame whose encoded matrix (`ml.dataset.encoded_matrix`, or
    `rows_matrix` for the online API's rows) this is."""
    spec = model.spec
    scores = model.predict_frame_matrix(matrix)
    if model.threshold is None:
        return FrameScores(scores, None, None)
    flagged = scores >= model.threshold
    codes: list[list[str] | None] = [None] * len(scores)
    if spec.reason_codes and flagged.any():
        for index, row_codes in zip(
            np.flatnonzero(flagged),
            reason_codes(model, matrix[flagged], spec.reason_codes, attribution, threads),
            strict=True,
        ):
            codes[index] = row_codes
    return FrameScores(scores, flagged, codes)


def _score_batch(
    model: TrainedModel,
    batch: pa.RecordBatch,
    version: int,
    scored_at: datetime,
    attribution: PathAttribution | None,
) -> pa.Table:
    """Scores of one batch. The model's own spec (as trained) gives the features; how reason codes
    are computed is a scoring choice, taken from the current spec (`attribution` when it says path)."""
    spec = model.spec
    frame = pl.from_arrow(batch)
    assert isinstance(frame, pl.DataFrame)
    scored = score_frame(model, frame, attribution)
    scores = scored.scores
    columns = {key: frame[key].to_arrow() for key in _key_columns(spec)}
    columns[spec.output.score_column] = pa.array(scores, pa.float64())
    columns["model_version"] = pa.array(np.full(len(scores), version, dtype=np.int32))
    columns["features_hash"] = frame["features_hash"].to_arrow()
    columns["scored_at"] = pa.array([scored_at] * len(scores), pa.timestamp("us"))
    if model.threshold is not None:
        columns["operating_threshold"] = pa.array(np.full(len(scores), model.threshold))
        columns["is_flagged"] = pa.array(scored.flagged)
        columns["reason_codes"] = pa.array(scored.reason_codes, pa.list_(pa.string()))
    return pa.table(columns)


class _ScoreWriter:
    """Writes scored batches straight into the output table, inside one transaction on a cursor of
    its own (the features stream out on the caller's connection meanwhile): a whole window replaces
    the table; otherwise the scores `replace_where` selects are deleted first (a set of landing days
    and the scores whose features changed). Nothing is visible before `commit`,
    and a crash before it leaves the previous scores, because DuckDB rolls the transaction back."""

    def __init__(self, con: duckdb.DuckDBPyConnection, spec: ModelSpec, replace_where: str | None) -> None:
        self.spec, self.replace_where, self.rows = spec, replace_where, 0
        self.table = quote_relation(spec.output.table)
        # a write that fails below (a full disk, an I/O error) names the step and the file
        self.reported = functools.partial(
            reported, f"scoring {spec.name}: writing {spec.output.table}", database_file(con)
        )
        self.cursor = con.cursor()
        self.cursor.execute("begin transaction")
        self.started = self.committing = False

    def write(self, scored: pa.Table) -> None:
        self.cursor.register("_scored", scored)
        try:
            with self.reported():
                if not self.started:
                    self._start(scored)
                self.cursor.execute(f"insert into {self.table} by name select * from _scored")
        finally:
            self.cursor.unregister("_scored")
        self.rows += scored.num_rows

    def _start(self, first: pa.Table) -> None:
        """The table as declared (ml/output_tables.py): replaced for a whole window, created when
        missing for a set of days."""
        self.started = True
        create_table(self.cursor, self.spec.output.table, replace=self.replace_where is None)
        _check_same_columns(self.cursor, self.spec.output.table, first.column_names)
        if self.replace_where is not None:
            self._delete()

    def _delete(self) -> None:
        assert self.replace_where is not None
        self.cursor.execute(f"delete from {self.table} as scored where {self.replace_where}")
        reached("score:in_transaction")

    def commit(self) -> int:
        if (
            self.replace_where is not None
            and not self.started
            and relation_exists(self.cursor, self.spec.output.table)
        ):
            self._delete()  # a landing day without rows is valid: its old scores are removed
        reached("score:after_spool")
        self.committing = True  # a commit that fails (a full disk) ends the transaction itself
        with self.reported():
            self.cursor.execute("commit")
        self.cursor.close()
        return self.rows

    def rollback(self) -> None:
        if not self.committing:
            self.cursor.execute("rollback")
        self.cursor.close()


def _check_same_columns(con: duckdb.DuckDBPyConnection, relation: str, new: list[str]) -> None:
    """The table (as declared, or as an earlier run left it) has the columns this run writes."""
    existing = [row[0] for row in con.execute(f"describe {quote_relation(relation)}").fetchall()]
    if sorted(existing) != sorted(new):
        raise ValueError(
            f"{relation} has columns {existing}, this run writes {new}: the columns declared in "
            f"{declared_in(relation)} and the scores must match (a table an older version left behind: "
            "drop it, or score the whole window with `python -m ml score`, before replacing single days)"
        )


def _feature_sql(spec: ModelSpec) -> str:
    """The key columns as stored and the features, numeric ones cast to double by DuckDB (in
    parallel, before they cross into Python), categorical ones as they are."""
    keys = _key_columns(spec)
    columns = [quote(c) for c in keys]
    for name in spec.features.names:
        if name in keys:
            continue
        numeric = name in spec.features.numeric
        columns.append(f"cast({quote(name)} as double) as {quote(name)}" if numeric else quote(name))
    return ", ".join(columns)


def _with_predictor(
    model: TrainedModel, artifact_dir: Path, cache_dir: Path, first: pa.RecordBatch, rows: int
) -> TrainedModel:
    """The model with its compiled forest if the pass is large enough (ml/scoring/compiled.py) and the
    forest agrees with LightGBM on the first rows to score."""
    frame = pl.from_arrow(first.slice(0, PROBE_ROWS))
    assert isinstance(frame, pl.DataFrame)
    probe = encoded_matrix(frame, model.codebook, model.spec.features.names)
    reference = LightGBMPredictor(model.booster, raw_score=model.spec.task == "binary")
    chosen = choose(
        reference,
        artifact_dir / "model.txt",
        cache_dir,
        probe,
        model.spec.lightgbm.num_threads,
        rows,
    )
    return replace(model, predictor=chosen)


def score(
    con: duckdb.DuckDBPyConnection,
    spec: ModelSpec,
    models_dir: Path,
    scored_at: datetime,
    batch_rows: int = BATCH_ROWS,
    days: Days | None = None,
    cluster: str | None = None,
) -> ScoringResult:
    """Score with the champion: the spec's whole window, or, for a daily spec, the landing `days`
    given (first, last inclusive) and the rows of other days whose features changed since they were
    scored, replacing their scores (and deleting those of rows that are gone). A spec with
    `lightgbm.engine: dask` is scored by partition on the cluster (`cluster`: the scheduler's
    address, None: a local one; ml/scoring/partitioned.py), written in the same transaction."""
    champion = registry.resolve(con, spec.name)
    artifact_dir = champion.artifact_dir(models_dir)
    model = load_artifact(artifact_dir, champion.artifact_hash)
    where = scoring_where(spec, champion.training_cutoff)
    replace_where = None
    if days is not None:
        _require_daily(spec)
        replace_where = _scores_to_replace_sql(spec, days, where)
        where = [*where, _days_to_score_sql(spec, days, relation_exists(con, spec.output.table))]
    # no ORDER BY: every row is scored on its own, and the scan keeps the feature table's order
    sql = (
        f"select {_feature_sql(spec)}, {features_hash_sql(spec)} as features_hash "
        f"from {quote_relation(spec.features_relation)} as features"
    )
    if where:
        sql += f" where {' and '.join(where)}"

    con.execute("create schema if not exists ml")
    (to_score,) = con.sql(f"select count(*) from ({sql})").fetchone()
    flagged = 0
    # the per-leaf tables are built once per pass, not per batch
    attribution = PathAttribution.from_booster(model.booster) if spec.reason_method == "path" else None
    writer = _ScoreWriter(con, spec, replace_where)
    try:
        if spec.lightgbm.engine == "dask" and to_score:
            from ml.scoring.partitioned import ScoringPass, scored_parts

            probe = con.sql(sql).to_arrow_reader(PROBE_ROWS).read_next_batch()
            model = _with_predictor(model, artifact_dir, cache_dir(models_dir), probe, int(to_score))
            scoring = ScoringPass(
                artifact_dir,
                champion.artifact_hash,
                cache_dir(models_dir) if model.predictor and model.predictor.engine != "lightgbm" else None,
                champion.version,
                scored_at,
                attribution is not None,
            )
            tables: Iterable[pa.Table] = scored_parts(con, sql, model, scoring, models_dir, cluster)
        else:
            reader = con.sql(sql).to_arrow_reader(batch_rows)
            first = next(iter(reader), None)
            if first is not None:
                model = _with_predictor(model, artifact_dir, cache_dir(models_dir), first, int(to_score))
            batches = [] if first is None else itertools.chain([first], reader)
            version = champion.version
            tables = (_score_batch(model, batch, version, scored_at, attribution) for batch in batches)
        for table in tables:
            if model.threshold is not None:
                flagged += int(np.count_nonzero(table["is_flagged"].to_numpy()))
            writer.write(table)
        if days is None and writer.rows == 0:
            raise ValueError(
                f"{spec.source_path}: nothing to score in {spec.features_relation} ({' and '.join(where)})"
            )
        rows = writer.commit()
    except BaseException:
        writer.rollback()
        raise
    reached("score:before_backtest")
    backtest_rows = ensure_backtest(con, spec, model, champion.version, champion.training_cutoff)
    return ScoringResult(
        spec.name,
        champion.version,
        spec.output.table,
        rows,
        flagged if model.threshold is not None else None,
        spec.backtest_table,
        backtest_rows,
        model.predictor.engine if model.predictor is not None else "lightgbm",
    )
