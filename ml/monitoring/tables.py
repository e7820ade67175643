"""The monitoring tables in the warehouse's `ml` schema. A monitoring pass replaces the rows of the
model version it measured, so rerunning it is idempotent; other versions' rows are history."""

from __future__ import annotations

from datetime import datetime

import duckdb
import polars as pl

DRIFT_TABLE = "ml.drift_metrics"
PERFORMANCE_TABLE = "ml.model_performance_daily"
VERDICTS_TABLE = "ml.monitoring_verdicts"
ESTIMATED_TABLE = "ml.estimated_performance_daily"

DDL = f"""
create schema if not exists ml;
create table if not exists {DRIFT_TABLE} (
    model_name varchar not null,
    model_version integer not null,
    window_start date not null,
    window_end date not null,
    feature varchar not null,
    feature_kind varchar not null,
    psi double not null,
    js_divergence double not null,
    sample_size bigint not null,
    reference_size bigint not null,
    status varchar not null,
    psi_warn double not null,
    psi_fail double not null,
    computed_at timestamp not null,
    seasonal_allowance double,
    allowance_basis varchar
);
create table if not exists {PERFORMANCE_TABLE} (
    model_name varchar not null,
    model_version integer not null,
    event_date date not null,
    rows bigint not null,
    positives bigint,
    auc_pr double,
    auc_roc double,
    brier double,
    mean_score double,
    positive_rate double,
    calibration_ratio double,
    operating_threshold double,
    recall_at_threshold double,
    precision_at_threshold double,
    actual_total double,
    predicted_total double,
    wape double,
    bias double,
    abs_bias double,
    labels_final_at timestamp not null,
    computed_at timestamp not null
);
create table if not exists {ESTIMATED_TABLE} (
    model_name varchar not null,
    model_version integer not null,
    event_date date not null,
    rows bigint not null,
    expected_positives double not null,
    estimated_auc_pr double,
    estimated_precision_at_threshold double,
    estimated_recall_at_threshold double,
    operating_threshold double,
    labels_final_at timestamp not null,
    computed_at timestamp not null
);
create table if not exists {VERDICTS_TABLE} (
    model_name varchar not null,
    model_version integer not null,
    as_of timestamp not null,
    check_name varchar not null,
    status varchar not null,
    summary varchar not null,
    computed_at timestamp not null
);
"""

DRIFT_COLUMNS = [
    "model_name", "model_version", "window_start", "window_end", "feature", "feature_kind", "psi",
    "js_divergence", "sample_size", "reference_size", "status", "psi_warn", "psi_fail", "computed_at",
    "seasonal_allowance", "allowance_basis",
]  # fmt: skip
PERFORMANCE_COLUMNS = [
    "model_name", "model_version", "event_date", "rows", "positives", "auc_pr", "auc_roc", "brier",
    "mean_score", "positive_rate", "calibration_ratio", "operating_threshold", "recall_at_threshold",
    "precision_at_threshold", "actual_total", "predicted_total", "wape", "bias", "abs_bias",
    "labels_final_at", "computed_at",
]  # fmt: skip
ESTIMATED_COLUMNS = [
    "model_name", "model_version", "event_date", "rows", "expected_positives", "estimated_auc_pr",
    "estimated_precision_at_threshold", "estimated_recall_at_threshold", "operating_threshold",
    "labels_final_at", "computed_at",
]  # fmt: skip


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(DDL)
    # a warehouse from before the drift reference was renamed has the column under its old name
    renamed = con.execute(
        "select count(*) from duckdb_columns() where schema_name = 'ml' and table_name = 'drift_metrics' "
        "and column_name = 'baseline_size'"
    ).fetchone()[0]
    if renamed:
        con.execute("alter table ml.drift_metrics rename column baseline_size to reference_size")
    # ...and one from before seasonal allowances lacks their columns (added last, as in the DDL)
    con.execute("alter table ml.drift_metrics add column if not exists seasonal_allowance double")
    con.execute("alter table ml.drift_metrics add column if not exists allowance_basis varchar")


def _frame(rows: list[dict], columns: list[str], con: duckdb.DuckDBPyConnection, table: str) -> pl.DataFrame:
    """Rows in the table's column order and types (an empty list still has the schema)."""
    schema = con.sql(f"select * from {table} limit 0").pl().schema
    return pl.DataFrame([{c: row.get(c) for c in columns} for row in rows], schema=schema, orient="row")


def replace_version(
    con: duckdb.DuckDBPyConnection,
    model_name: str,
    version: int,
    drift_rows: list[dict],
    performance_rows: list[dict],
    estimated_rows: list[dict],
    verdicts: list[tuple[str, str, str]],
    as_of: datetime,
    computed_at: datetime,
) -> None:
    """One model version's drift, performance and estimated performance rows, replaced, and the
    pass's verdicts
    (check, status, summary) as of its data time, replacing those of a pass at the same data time
    (a rerun on the same data changes nothing; the history over data time is what the retraining
    sensor reads), in one transaction."""
    ensure_tables(con)
    drift = _frame([{**r, "computed_at": computed_at} for r in drift_rows], DRIFT_COLUMNS, con, DRIFT_TABLE)
    performance = _frame(
        [{**r, "computed_at": computed_at} for r in performance_rows],
        PERFORMANCE_COLUMNS,
        con,
        PERFORMANCE_TABLE,
    )
    estimated = _frame(
        [{**r, "computed_at": computed_at} for r in estimated_rows], ESTIMATED_COLUMNS, con, ESTIMATED_TABLE
    )
    con.execute("begin transaction")
    try:
        for table in (DRIFT_TABLE, PERFORMANCE_TABLE, ESTIMATED_TABLE):
            con.execute(
                f"delete from {table} where model_name = ? and model_version = ?", [model_name, version]
            )
        con.execute(
            f"delete from {VERDICTS_TABLE} where model_name = ? and model_version = ? and as_of = ?",
            [model_name, version, as_of],
        )
        con.register("_drift_rows", drift)
        con.register("_performance_rows", performance)
        con.register("_estimated_rows", estimated)
        con.execute(f"insert into {DRIFT_TABLE} select * from _drift_rows")
        con.execute(f"insert into {PERFORMANCE_TABLE} select * from _performance_rows")
        con.execute(f"insert into {ESTIMATED_TABLE} select * from _estimated_rows")
        for name in ("_drift_rows", "_performance_rows", "_estimated_rows"):
            con.unregister(name)
        con.executemany(
            f"insert into {VERDICTS_TABLE} values (?, ?, ?, ?, ?, ?, ?)",
            [
                [model_name, version, as_of, check, status, summary, computed_at]
                for check, status, summary in verdicts
            ],
        )
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")
