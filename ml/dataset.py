"""Reading a spec's feature relation from DuckDB: the cutoff, the labelled rows and the time split.

Rows are ordered by the entity key before anything else sees them, so the same data always gives
the same arrays. Labels respect maturity: a binary row is labelled only once its window has closed
at the cutoff, and its label is positive only if the outcome was known by then.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cached_property

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa

from ml.encoding import SMALL_FRAME_ROWS, CodeBook
from ml.errors import FeatureRelationError
from ml.identifiers import quote, quote_relation
from ml.specs import ModelSpec

NAN = float("nan")

SPLITS = ("train", "validation", "test")
INTEGER_TYPES = (
    *("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"),
    *("UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"),
)
FETCH_BATCH_ROWS = 122_880  # rows per record batch streamed out of DuckDB (its row-group size)


@dataclass(frozen=True)
class Window:
    """The time boundaries of one training run (all naive UTC)."""

    cutoff: datetime
    matured_until: datetime
    test_start: datetime
    validation_start: datetime
    train_start: datetime | None

    def split_of(self, event_time: pl.Expr) -> pl.Expr:
        return (
            pl.when(event_time > self.test_start)
            .then(pl.lit("test"))
            .when(event_time > self.validation_start)
            .then(pl.lit("validation"))
            .otherwise(pl.lit("train"))
        )


@dataclass(frozen=True)
class LabelledData:
    frame: pl.DataFrame  # keys, event time, features, label, split (+ baseline), ordered by key
    window: Window

    def part(self, split: str, columns: tuple[str, ...] | list[str] | None = None) -> pl.DataFrame:
        """The rows of one split; only the given columns are copied when `columns` is given."""
        rows = self.frame.lazy().filter(pl.col("_split") == split)
        return (rows if columns is None else rows.select(columns)).collect()

    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 of the training rows (keys, features and labels, in order)."""
        digest = hashlib.sha256()
        for column in self.frame.columns:
            series = self.frame[column]
            digest.update(column.encode())
            digest.update(series.is_null().to_numpy().tobytes())
            if series.dtype.is_numeric() or series.dtype == pl.Boolean or series.dtype.is_temporal():
                digest.update(series.to_physical().cast(pl.Float64).fill_null(0).to_numpy().tobytes())
            else:
                lengths, data = _string_buffers(series)
                digest.update(lengths.tobytes())
                digest.update(data)
        return digest.hexdigest()


def _string_buffers(series: pl.Series) -> tuple[np.ndarray, bytes]:
    """A string column as its value lengths and concatenated UTF-8 bytes (nulls as ""), read from
    Arrow's buffers without a Python object per value. Independent of chunking and slicing."""
    array = series.cast(pl.String).fill_null("").to_arrow().cast(pa.large_string())
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)[array.offset : array.offset + len(array) + 1]
    data = array.buffers()[2]
    start, end = (int(offsets[0]), int(offsets[-1])) if len(offsets) else (0, 0)
    return np.diff(offsets), b"" if data is None else data.to_pybytes()[start:end]


def event_sql(spec: ModelSpec) -> str:
    return f"cast({quote(spec.event_timestamp)} as timestamp)"


def check_relation(con: duckdb.DuckDBPyConnection, spec: ModelSpec) -> dict[str, str]:
    """The relation's column types; raises FeatureRelationError naming every missing column."""
    relation = quote_relation(spec.features_relation)
    try:
        described = con.sql(f"describe select * from {relation}").fetchall()
    except duckdb.CatalogException as exc:
        raise FeatureRelationError(
            f"{spec.source_path}: features_relation {spec.features_relation} does not exist (run dbt first)"
        ) from exc
    types = {name: kind for name, kind, *_ in described}
    needed = [
        *spec.entity_key,
        spec.event_timestamp,
        spec.label.column,
        *([spec.label.known_at] if spec.label.known_at else []),
        *spec.features.names,
        *([spec.sample_filter] if spec.sample_filter else []),
        *([spec.baseline_column] if spec.baseline_column else []),
    ]
    missing = [column for column in needed if column not in types]
    if missing:
        raise FeatureRelationError(f"{spec.source_path}: {spec.features_relation} has no columns {missing}")
    if spec.task == "binary":
        _check_binary_label(con, spec, types)
    return types


def label_is_time(spec: ModelSpec, types: dict[str, str]) -> bool:
    """Whether a binary label column is the time the positive outcome became known (a timestamp)
    rather than the outcome itself (boolean or 0/1)."""
    return spec.task == "binary" and types[spec.label.column].startswith("TIMESTAMP")


def _check_binary_label(con: duckdb.DuckDBPyConnection, spec: ModelSpec, types: dict[str, str]) -> None:
    column, kind = spec.label.column, types[spec.label.column]
    where = f"{spec.source_path}: label.column {column}"
    if label_is_time(spec, types):
        if spec.label.known_at:
            raise FeatureRelationError(
                f"{spec.source_path}: label.known_at: {column} is a timestamp, already the time the outcome "
                "became known; known_at goes with a boolean or 0/1 label"
            )
        return
    if kind not in ("BOOLEAN", *INTEGER_TYPES):
        raise FeatureRelationError(
            f"{where} must be a boolean, an integer 0/1 or a timestamp (when the positive outcome became "
            f"known) for a binary task, got {kind}"
        )
    if kind in INTEGER_TYPES:
        label = quote(column)
        rows, example = con.sql(
            f"select count(*), min({label}) from {quote_relation(spec.features_relation)} "
            f"where {label} not in (0, 1)"
        ).fetchone()
        if rows:
            raise FeatureRelationError(
                f"{where} must hold 0 or 1 (or null), but {rows} rows hold others (for example {example})"
            )
    known_at = spec.label.known_at
    if known_at and not types[known_at].startswith("TIMESTAMP"):
        raise FeatureRelationError(
            f"{spec.source_path}: label.known_at {known_at} must be a timestamp, got {types[known_at]}"
        )


def label_sql(spec: ModelSpec, known_by: datetime, is_time: bool, table: str = "") -> str:
    """A row's label as it was known at `known_by`, in SQL (`table` prefixes the columns, as "f.").
    binary: 1 or 0 (null: the outcome is not known, the row is not labelled); an outcome known only
    after `known_by` is 0, as it was then. regression: the value as a double."""
    column = f"{table}{quote(spec.label.column)}"
    if spec.task == "regression":
        return f"cast({column} as double)"
    if is_time:
        return f"cast(coalesce({column} <= {timestamp_sql(known_by)}, false) as integer)"
    outcome = f"cast({column} as boolean)"
    if spec.label.known_at:
        known = f"{table}{quote(spec.label.known_at)}"
        outcome = f"({outcome} and coalesce({known} <= {timestamp_sql(known_by)}, true))"
    return f"cast({outcome} as integer)"


def labelled_filter(spec: ModelSpec, is_time: bool) -> str | None:
    """The condition for a row to have an outcome at all: a time label's null is a negative."""
    return None if is_time else f"{quote(spec.label.column)} is not null"


def timestamp_sql(value: datetime) -> str:
    """A naive UTC datetime as a SQL timestamp literal."""
    return f"timestamp '{value.isoformat(sep=' ')}'"


def latest_event(
    con: duckdb.DuckDBPyConnection, spec: ModelSpec, as_of: datetime | None = None
) -> datetime | None:
    """The latest event of the spec's rows (with a known outcome, for a regression, whose relation
    also holds the days still to forecast), at or before `as_of` if given: the warehouse's present,
    as training sees it. None when there is no such row."""
    where = [f"{quote(spec.label.column)} is not null"] if spec.task == "regression" else []
    if as_of is not None:
        where.append(f"{event_sql(spec)} <= {timestamp_sql(as_of)}")
    if spec.sample_filter:
        where.append(quote(spec.sample_filter))
    clause = f"where {' and '.join(where)}" if where else ""
    return con.sql(
        f"select max({event_sql(spec)}) from {quote_relation(spec.features_relation)} {clause}"
    ).fetchone()[0]


def resolve_cutoff(
    con: duckdb.DuckDBPyConnection, spec: ModelSpec, as_of: datetime | None = None
) -> datetime:
    """Relative split: the latest event (with a known outcome, for regression) minus the spec's
    days. Calendar split: the end of `test_until` plus the labels' maturity, once the data reaches
    that day. With `as_of`, the latest event at or before it: training as it would have happened
    then (a replay)."""
    latest = latest_event(con, spec, as_of)
    if latest is None:
        raise FeatureRelationError(f"{spec.source_path}: {spec.features_relation} has no rows to train on")
    if not spec.split.is_calendar:
        return latest - timedelta(days=spec.split.cutoff_days_before_latest)
    maturity = timedelta(days=spec.label.maturity_days)
    due = spec.split.test_until + maturity
    if latest.date() < due:
        raise FeatureRelationError(
            f"{spec.source_path}: split.test_until {spec.split.test_until}: the test window's labels are "
            f"final on {due}, but the data of {spec.features_relation} ends at {latest}"
        )
    return end_of_day(spec.split.test_until) + maturity


def end_of_day(day: date) -> datetime:
    """The last microsecond of a calendar day: a window `until` a day holds all of it."""
    return datetime.combine(day + timedelta(days=1), time()) - timedelta(microseconds=1)


def window_for(spec: ModelSpec, cutoff: datetime) -> Window:
    if spec.split.is_calendar:
        return Window(
            cutoff=cutoff,
            matured_until=end_of_day(spec.split.test_until),
            test_start=end_of_day(spec.split.validation_until),
            validation_start=end_of_day(spec.split.train_until),
            train_start=None,
        )
    matured_until = cutoff - timedelta(days=spec.label.maturity_days)
    test_start = matured_until - timedelta(days=spec.split.test_days)
    validation_start = test_start - timedelta(days=spec.split.validation_days)
    train_start = validation_start - timedelta(days=spec.split.train_days) if spec.split.train_days else None
    return Window(cutoff, matured_until, test_start, validation_start, train_start)


def unique_columns(*groups: tuple[str, ...] | list[str]) -> list[str]:
    """Column names in order, each once (a key column may also be a feature)."""
    return list(dict.fromkeys(name for group in groups for name in group))


def _select_list(spec: ModelSpec, cutoff: datetime, is_time: bool) -> str:
    columns = [quote(c) for c in unique_columns(spec.entity_key, spec.features.names)]
    columns.append(f"{event_sql(spec)} as _event_time")
    columns.append(f"{label_sql(spec, cutoff, is_time)} as _label")
    if spec.baseline_column:
        columns.append(f"cast({quote(spec.baseline_column)} as double) as _baseline")
    return ", ".join(columns)


def _labelled_sql(spec: ModelSpec, cutoff: datetime, since: datetime | None, is_time: bool) -> str:
    """Matured rows up to the cutoff (after `since` if given), with their labels, ordered by key."""
    window = window_for(spec, cutoff)
    where = [f"{event_sql(spec)} <= {timestamp_sql(window.matured_until)}"]
    if since:
        where.append(f"{event_sql(spec)} > {timestamp_sql(since)}")
    has_outcome = labelled_filter(spec, is_time)
    if has_outcome:
        where.append(has_outcome)
    if spec.sample_filter:
        where.append(quote(spec.sample_filter))
    order = ", ".join(quote(c) for c in spec.entity_key)
    return (
        f"select {_select_list(spec, cutoff, is_time)} from {quote_relation(spec.features_relation)} "
        f"where {' and '.join(where)} order by {order}"
    )


def load_test_window(con: duckdb.DuckDBPyConnection, spec: ModelSpec, cutoff: datetime) -> pl.DataFrame:
    """The labelled rows of the out-of-time test window only, ordered by key: what a backtest
    reads, so its memory follows the test window, not the whole history."""
    types = check_relation(con, spec)
    window = window_for(spec, cutoff)
    return fetch_frame(con, _labelled_sql(spec, cutoff, window.test_start, label_is_time(spec, types)))


def fetch_frame(con: duckdb.DuckDBPyConnection, sql: str) -> pl.DataFrame:
    """A query's result as a polars frame, streamed out of DuckDB in record batches. `.pl()` first
    materializes the whole result inside DuckDB and then converts it, holding it twice: at ~1M
    labelled rows streaming peaks ~165 MiB lower, and the frame is the same."""
    frame = pl.from_arrow(con.sql(sql).to_arrow_reader(FETCH_BATCH_ROWS).read_all())
    assert isinstance(frame, pl.DataFrame)
    return frame


def load_labelled(con: duckdb.DuckDBPyConnection, spec: ModelSpec, cutoff: datetime) -> LabelledData:
    """Matured, labelled rows up to the cutoff, ordered by key, with their split."""
    types = check_relation(con, spec)
    window = window_for(spec, cutoff)
    sql = _labelled_sql(spec, cutoff, window.train_start, label_is_time(spec, types))
    frame = fetch_frame(con, sql)
    frame = frame.with_columns(window.split_of(pl.col("_event_time")).alias("_split"))
    counts = dict(frame.group_by("_split").len().iter_rows())
    empty = [split for split in SPLITS if not counts.get(split)]
    if empty:
        raise FeatureRelationError(
            f"{spec.source_path}: no rows in the {empty} window(s) of {spec.features_relation} "
            f"(cutoff {cutoff}, matured until {window.matured_until}); more history is needed"
        )
    if spec.task == "binary":
        positives = frame.filter(pl.col("_split") == "train")["_label"].sum()
        if not positives:
            raise FeatureRelationError(f"{spec.source_path}: no positive labels in the training window")
    return LabelledData(frame=frame, window=window)


def to_matrix(frame: pl.DataFrame, columns: tuple[str, ...]) -> np.ndarray:
    """Float64 feature matrix (nulls as NaN) in the given column order. Column by column: the same
    values as one `select(...).to_numpy()`, without building a query (~0.2 ms) on every call. The
    matrix is column-major and filled in place, so building it holds one matrix and one column,
    not two matrices; LightGBM reads a column-major float64 matrix without copying it."""
    matrix = np.empty((frame.height, len(columns)), dtype=np.float64, order="F")
    for index, column in enumerate(columns):
        matrix[:, index] = frame.get_column(column).cast(pl.Float64).to_numpy()
    return matrix


def rows_matrix(rows: Sequence[Sequence[object]], codebook: CodeBook, columns: tuple[str, ...]) -> np.ndarray:
    """The matrix `encoded_matrix` gives for the frame these rows would make (each row's values in
    `columns` order, numeric ones as float or None, categorical ones as str or None), without making
    the frame: for the online API's one or few payments, where building a polars frame costs more
    than scoring the row. Row-major; LightGBM reads either order."""
    lookups = [codebook.codes(column) for column in columns]
    values = [
        codes.get(value, NAN) if codes is not None else (NAN if value is None else value)
        for row in rows
        for value, codes in zip(row, lookups, strict=True)
    ]
    return np.array(values, dtype=np.float64).reshape(len(rows), len(columns))


def encoded_matrix(frame: pl.DataFrame, codebook: CodeBook, columns: tuple[str, ...]) -> np.ndarray:
    """`to_matrix(codebook.encode(frame), columns)`; for the online API's few rows without building
    the encoded frame (a polars query, most of the encoding's cost for one row): categorical values
    are looked up straight into the matrix, unknown and null as NaN."""
    if frame.height > SMALL_FRAME_ROWS:
        return to_matrix(codebook.encode(frame), columns)
    matrix = np.empty((frame.height, len(columns)), dtype=np.float64, order="F")
    for index, column in enumerate(columns):
        values, codes = frame.get_column(column), codebook.codes(column)
        if codes is None:
            matrix[:, index] = values.cast(pl.Float64).to_numpy()
        else:
            matrix[:, index] = [codes.get(value, np.nan) for value in values.cast(pl.String).to_list()]
    return matrix
