"""Batch scoring with the champion.

Rows stream out of DuckDB as Arrow record batches, are scored batch by batch and spooled to a
Parquet file, so memory stays bounded whatever the table size. The output table is then replaced in
one statement, or, for a daily spec scoring some landing days, those days are deleted and inserted
in one transaction: a rerun replaces, never duplicates, and a reader never sees half of it.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from ml import registry
from ml.artifacts import load_artifact
from ml.crashpoints import crash_point
from ml.dataset import event_sql, load_labelled, to_matrix, unique_columns
from ml.identifiers import quote, quote_relation
from ml.specs import ModelSpec
from ml.train import TrainedModel

BATCH_ROWS = 262_144


@dataclass(frozen=True)
class ScoringResult:
    model_name: str
    version: int
    table: str
    rows: int
    flagged: int | None
    backtest_table: str
    backtest_rows: int


Days = tuple[date, date]


def scoring_where(spec: ModelSpec, cutoff: datetime, days: Days | None = None) -> list[str]:
    """The rows to score: the spec's window, narrowed to `days` (inclusive) for a daily spec."""
    where = [quote(spec.sample_filter)] if spec.sample_filter else []
    if spec.scoring.window == "next_days":
        end = cutoff + timedelta(days=spec.scoring.next_days)
        where.append(f"{event_sql(spec)} > timestamp '{cutoff.isoformat(sep=' ')}'")
        where.append(f"{event_sql(spec)} <= timestamp '{end.isoformat(sep=' ')}'")
    if days is not None:
        if spec.scoring.window != "daily":
            raise ValueError(f"{spec.source_path}: scoring.window is {spec.scoring.window!r}, not daily")
        where.append(_days_sql(spec, days))
    return where


def _days_sql(spec: ModelSpec, days: Days) -> str:
    column, (first, last) = quote(spec.scoring.day_column), days
    return f"{column} between date '{first.isoformat()}' and date '{last.isoformat()}'"


def _key_columns(spec: ModelSpec) -> list[str]:
    """The columns copied from the features to the scores: the entity key, and the day for a daily spec."""
    day = (spec.scoring.day_column,) if spec.scoring.day_column else ()
    return unique_columns(spec.entity_key, day)


def reason_codes(model: TrainedModel, matrix: np.ndarray, top: int) -> list[list[str]]:
    """Names of the features pushing each row's score up the most (LightGBM SHAP contributions)."""
    contributions = model.booster.predict(matrix, pred_contrib=True)[:, :-1]
    names = model.spec.features.names
    order = np.argsort(-contributions, axis=1, kind="stable")[:, :top]
    return [[names[j] for j in row if contributions[i, j] > 0] for i, row in enumerate(order)]


def _score_batch(model: TrainedModel, batch: pa.RecordBatch, version: int, scored_at: datetime) -> pa.Table:
    spec = model.spec
    frame = pl.from_arrow(batch)
    assert isinstance(frame, pl.DataFrame)
    scores = model.predict_frame_matrix(to_matrix(model.codebook.encode(frame), spec.features.names))
    columns = {key: frame[key].to_arrow() for key in _key_columns(spec)}
    columns[spec.output.score_column] = pa.array(scores, pa.float64())
    columns["model_version"] = pa.array(np.full(len(scores), version, dtype=np.int32))
    columns["scored_at"] = pa.array([scored_at] * len(scores), pa.timestamp("us"))
    if model.threshold is not None:
        flagged = scores >= model.threshold
        codes: list[list[str] | None] = [None] * len(scores)
        if spec.reason_codes and flagged.any():
            matrix = to_matrix(model.codebook.encode(frame.filter(pl.Series(flagged))), spec.features.names)
            for index, row_codes in zip(
                np.flatnonzero(flagged), reason_codes(model, matrix, spec.reason_codes), strict=True
            ):
                codes[index] = row_codes
        columns["operating_threshold"] = pa.array(np.full(len(scores), model.threshold))
        columns["is_flagged"] = pa.array(flagged)
        columns["reason_codes"] = pa.array(codes, pa.list_(pa.string()))
    return pa.table(columns)


def _replace_table(con: duckdb.DuckDBPyConnection, table: str, parquet: Path) -> int:
    con.execute(f"create or replace table {quote_relation(table)} as select * from read_parquet('{parquet}')")
    (rows,) = con.execute(f"select count(*) from {quote_relation(table)}").fetchone()
    return int(rows)


def _replace_days(con: duckdb.DuckDBPyConnection, spec: ModelSpec, days: Days, parquet: Path | None) -> int:
    """Delete the scores of `days` and insert the new ones (if any), in one transaction."""
    table = quote_relation(spec.output.table)
    con.execute("begin transaction")
    try:
        if parquet is not None:
            con.execute(f"create table if not exists {table} as from read_parquet('{parquet}') limit 0")
            _check_same_columns(con, spec.output.table, parquet)
        if parquet is not None or _exists(con, spec.output.table):
            con.execute(f"delete from {table} where {_days_sql(spec, days)}")
        crash_point("score:in_transaction")
        if parquet is not None:
            con.execute(f"insert into {table} by name from read_parquet('{parquet}')")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    if parquet is None:
        return 0
    (rows,) = con.execute(f"select count(*) from read_parquet('{parquet}')").fetchone()
    return int(rows)


def _check_same_columns(con: duckdb.DuckDBPyConnection, relation: str, parquet: Path) -> None:
    """Days are replaced inside an existing table only if it has the columns this run writes."""
    existing = [row[0] for row in con.execute(f"describe {quote_relation(relation)}").fetchall()]
    new = [row[0] for row in con.execute(f"describe from read_parquet('{parquet}')").fetchall()]
    if sorted(existing) != sorted(new):
        raise ValueError(
            f"{relation} has columns {existing}, this run writes {new}: drop the table (or score the "
            "whole window with `python -m ml score`) before replacing single days"
        )


def _exists(con: duckdb.DuckDBPyConnection, relation: str) -> bool:
    schema, table = relation.split(".")
    found = con.execute(
        "select count(*) from duckdb_tables() where schema_name = ? and table_name = ?", [schema, table]
    ).fetchone()
    return bool(found[0])


def score(
    con: duckdb.DuckDBPyConnection,
    spec: ModelSpec,
    scored_at: datetime,
    batch_rows: int = BATCH_ROWS,
    days: Days | None = None,
) -> ScoringResult:
    """Score with the champion: the spec's whole window, or, for a daily spec, only the landing
    `days` given (first, last inclusive), replacing the scores of those days."""
    champion = registry.resolve(con, spec.name)
    model = load_artifact(Path(champion.artifact_path), champion.artifact_hash)
    where = scoring_where(spec, champion.training_cutoff, days)
    columns = ", ".join(quote(c) for c in unique_columns(_key_columns(spec), spec.features.names))
    order = ", ".join(quote(c) for c in spec.entity_key)
    sql = f"select {columns} from {quote_relation(spec.features_relation)}"
    if where:
        sql += f" where {' and '.join(where)}"
    sql += f" order by {order}"

    con.execute("create schema if not exists ml")
    flagged = 0
    with tempfile.TemporaryDirectory(prefix="scores-") as spool_dir:
        spool = Path(spool_dir) / "scores.parquet"
        writer: pq.ParquetWriter | None = None
        reader = con.sql(sql).fetch_record_batch(batch_rows)
        for batch in reader:
            table = _score_batch(model, batch, champion.version, scored_at)
            if model.threshold is not None:
                flagged += int(np.count_nonzero(table["is_flagged"].to_numpy()))
            if writer is None:
                writer = pq.ParquetWriter(spool, table.schema)
            writer.write_table(table)
        if writer is not None:
            writer.close()
        crash_point("score:after_spool")
        if days is not None:  # a landing day without rows is valid: its old scores are removed
            rows = _replace_days(con, spec, days, spool if writer is not None else None)
        elif writer is None:
            raise ValueError(
                f"{spec.source_path}: nothing to score in {spec.features_relation} ({' and '.join(where)})"
            )
        else:
            rows = _replace_table(con, spec.output.table, spool)
    crash_point("score:before_backtest")
    backtest_rows = write_backtest(con, spec, model, champion.version, champion.training_cutoff)
    return ScoringResult(
        spec.name,
        champion.version,
        spec.output.table,
        rows,
        flagged if model.threshold is not None else None,
        spec.backtest_table,
        backtest_rows,
    )


def write_backtest(
    con: duckdb.DuckDBPyConnection, spec: ModelSpec, model: TrainedModel, version: int, cutoff: datetime
) -> int:
    """The champion's predictions on its own out-of-time test window, next to the labels."""
    data = load_labelled(con, spec, cutoff)
    test = model.codebook.encode(data.part("test"))
    frame = (
        data.part("test")
        .select(
            *spec.entity_key,
            pl.col("_event_time").alias("event_time"),
            pl.col("_label").alias("label"),
            *([pl.col("_baseline").alias("baseline")] if spec.baseline_column else []),
        )
        .with_columns(
            pl.Series("prediction", model.predict_frame_matrix(to_matrix(test, spec.features.names))),
            pl.lit(version, pl.Int32).alias("model_version"),
        )
    )
    with tempfile.TemporaryDirectory(prefix="backtest-") as spool_dir:
        spool = Path(spool_dir) / "backtest.parquet"
        frame.write_parquet(spool)
        return _replace_table(con, spec.backtest_table, spool)
