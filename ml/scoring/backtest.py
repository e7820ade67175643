"""The champion's backtest: its predictions on its own out-of-time test window, next to the labels
(`ml.<model>_backtest`), written by the scoring step whenever the champion changed (a promotion or
a rollback), so analysts compare the model in service with what it was judged on."""

from __future__ import annotations

from datetime import datetime

import duckdb
import polars as pl

from ml.dataset import load_test_window, to_matrix
from ml.identifiers import quote_relation, relation_exists
from ml.model import TrainedModel
from ml.specs import ModelSpec


def ensure_backtest(
    con: duckdb.DuckDBPyConnection, spec: ModelSpec, model: TrainedModel, version: int, cutoff: datetime
) -> int:
    """The backtest table's rows, written first unless it already holds this version's."""
    rows = current_backtest(con, spec, version)
    return write_backtest(con, spec, model, version, cutoff) if rows is None else rows


def current_backtest(con: duckdb.DuckDBPyConnection, spec: ModelSpec, version: int) -> int | None:
    """The rows of the backtest table if it already holds this version's backtest, else None.

    A version's backtest is its predictions on its own test window, which lies before its training
    cutoff: it does not change when later days are scored, so a daily run does not recompute it."""
    if not relation_exists(con, spec.backtest_table):
        return None
    rows, low, high = con.execute(
        f"select count(*), min(model_version), max(model_version) from {quote_relation(spec.backtest_table)}"
    ).fetchone()
    return int(rows) if rows and low == high == version else None


def write_backtest(
    con: duckdb.DuckDBPyConnection, spec: ModelSpec, model: TrainedModel, version: int, cutoff: datetime
) -> int:
    """The champion's predictions on its own out-of-time test window, next to the labels."""
    rows = load_test_window(con, spec, cutoff)
    test = model.codebook.encode(rows)
    frame = rows.select(
        *spec.entity_key,
        pl.col("_event_time").alias("event_time"),
        pl.col("_label").alias("label"),
        *([pl.col("_baseline").alias("baseline")] if spec.baseline_column else []),
    ).with_columns(
        pl.Series("prediction", model.predict_frame_matrix(to_matrix(test, spec.features.names))),
        pl.lit(version, pl.Int32).alias("model_version"),
    )
    backtest = frame.to_arrow()
    con.register("_backtest", backtest)
    try:
        con.execute(
            f"create or replace table {quote_relation(spec.backtest_table)} as select * from _backtest"
        )
    finally:
        con.unregister("_backtest")
    return backtest.num_rows
