"""Bias across segments: each segment's performance on the test window, and the worst disparity the
promotion gate judges (the spec's `fairness`); monitoring measures the same per matured day.

A segment is one value of a `segments` column (a channel, a country) or one band of a numeric column
cut at the spec's `bands` edges (account age under 30 days, 30 to 365, over 365). For a binary model
each segment has its flag rate, false-positive rate and recall at the operating threshold; for a
regression its WAPE and bias. A segment's disparity is its rate against all rows' rate, the largest
over the spec's `metrics`, in the direction that harms it: 2.0 means its legitimate customers are
flagged twice as often as everyone's (being flagged less is no harm to them), or its forecasts miss
by twice the WAPE. Rates are smoothed (half a case added to each side) so that no ratio divides by
zero.
Only segments of at least `min_rows` rows are judged; every segment is reported.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime

import duckdb
import numpy as np
import polars as pl

from ml.specs import ModelSpec

TABLE = "ml.segment_performance"
DDL = f"""
create schema if not exists ml;
create table if not exists {TABLE} (
    model_name varchar not null,
    model_version integer not null,
    scope varchar not null,
    event_date date,
    segment_column varchar not null,
    segment_value varchar not null,
    rows bigint not null,
    positives bigint,
    flag_rate double,
    false_positive_rate double,
    recall double,
    wape double,
    bias double,
    disparity double not null,
    is_judged boolean not null,
    computed_at timestamp not null
);
"""
MISSING = "(missing)"


@dataclass(frozen=True)
class Disparity:
    """The worst judged segment: how unequal, where, and on which metric."""

    value: float
    column: str
    segment: str
    metric: str

    def describe(self) -> str:
        return f"{self.metric} of {self.column}={self.segment} {self.value:.2f}x all rows'"


def band_labels(values: pl.Series, edges: tuple[float, ...]) -> pl.Series:
    """`<a`, `a..b`, ..., `>=z` for each value (null: MISSING)."""
    names = [f"<{edges[0]:g}", *(f"{lo:g}..{hi:g}" for lo, hi in itertools.pairwise(edges))]
    names.append(f">={edges[-1]:g}")
    numbers = values.cast(pl.Float64).to_numpy()
    index = np.searchsorted(np.asarray(edges), numbers, side="right")
    labels = [MISSING if np.isnan(x) else names[i] for x, i in zip(numbers, index, strict=True)]
    return pl.Series(values.name, labels)


def segment_columns(spec: ModelSpec, frame: pl.DataFrame) -> dict[str, pl.Series]:
    """Each segment column's value per row of `frame`, as text."""
    fairness = spec.fairness
    columns = {name: frame[name].cast(pl.String).fill_null(MISSING) for name in fairness.segments}
    columns |= {name: band_labels(frame[name], edges) for name, edges in fairness.bands.items()}
    return columns


def _smoothed(hits: int, cases: int) -> float:
    return (hits + 0.5) / (cases + 1.0)


def _rates(task: str, labels: np.ndarray, scores: np.ndarray, threshold: float | None) -> dict:
    """The figures of one group of rows, and the smoothed rates its disparity is taken on."""
    if task == "binary":
        flagged = scores >= (threshold if threshold is not None else 0.5)
        positive = labels == 1
        negatives, positives = int((~positive).sum()), int(positive.sum())
        false_flags, caught = int((flagged & ~positive).sum()), int((flagged & positive).sum())
        return {
            "rows": int(labels.size),
            "positives": positives,
            "flag_rate": float(flagged.mean()) if labels.size else None,
            "false_positive_rate": false_flags / negatives if negatives else None,
            "recall": caught / positives if positives else None,
            "_smoothed": {
                "flag_rate": _smoothed(int(flagged.sum()), int(labels.size)),
                "false_positive_rate": _smoothed(false_flags, negatives),
            },
        }
    total = float(np.abs(labels).sum())
    error = scores - labels
    wape = float(np.abs(error).sum() / total) if total else None
    return {
        "rows": int(labels.size),
        "wape": wape,
        "bias": float(error.sum() / total) if total else None,
        "_smoothed": {"wape": (float(np.abs(error).sum()) + 0.5) / (total + 1.0)},
    }


def measure(
    spec: ModelSpec, frame: pl.DataFrame, labels: np.ndarray, scores: np.ndarray, threshold: float | None
) -> tuple[list[dict], Disparity | None]:
    """Per segment of the spec's columns over the rows of `frame` (with their labels and scores):
    its figures and disparity; and the worst judged disparity (None: no segment judged)."""
    fairness = spec.fairness
    if not fairness.columns:
        return [], None
    whole = _rates(spec.task, labels, scores, threshold)["_smoothed"]
    rows, worst = [], None
    for column, values in segment_columns(spec, frame).items():
        codes = values.to_numpy()
        for segment in sorted(set(codes.tolist())):
            mask = codes == segment
            figures = _rates(spec.task, labels[mask], scores[mask], threshold)
            smoothed = figures.pop("_smoothed")
            by_metric = {metric: smoothed[metric] / whole[metric] for metric in fairness.metrics}
            metric = max(by_metric, key=by_metric.get)
            judged = figures["rows"] >= fairness.min_rows
            rows.append(
                {
                    "segment_column": column,
                    "segment_value": segment,
                    **figures,
                    "disparity": by_metric[metric],
                    "is_judged": judged,
                }
            )
            if judged and (worst is None or by_metric[metric] > worst.value):
                worst = Disparity(by_metric[metric], column, segment, metric)
    return rows, worst


def fairness_failures(spec: ModelSpec, candidate: Disparity | None, champion: Disparity | None) -> list[str]:
    """Why the gate refuses the candidate on bias (empty: it does not)."""
    fairness = spec.fairness
    failures = []
    if candidate is not None and candidate.value > fairness.max_disparity:
        failures.append(f"fairness: {candidate.describe()} (limit {fairness.max_disparity})")
    if (
        candidate is not None
        and champion is not None
        and candidate.value > champion.value * (1 + fairness.champion_margin)
    ):
        failures.append(
            f"fairness: {candidate.describe()}, worse than the champion's worst "
            f"{champion.value:.2f}x by more than {fairness.champion_margin:.0%}"
        )
    return failures


COLUMNS = [
    "model_name", "model_version", "scope", "event_date", "segment_column", "segment_value", "rows",
    "positives", "flag_rate", "false_positive_rate", "recall", "wape", "bias", "disparity", "is_judged",
    "computed_at",
]  # fmt: skip


def store(
    con: duckdb.DuckDBPyConnection, model_name: str, version: int, scope: str, rows: list[dict], at: datetime
) -> None:
    """Replace the version's rows of this scope (inside the caller's transaction)."""
    con.execute(DDL)
    con.execute(
        f"delete from {TABLE} where model_name = ? and model_version = ? and scope = ?",
        [model_name, version, scope],
    )
    fixed = {"model_name": model_name, "model_version": version, "scope": scope, "computed_at": at}
    if rows:
        con.executemany(
            f"insert into {TABLE} ({', '.join(COLUMNS)}) values ({', '.join('?' for _ in COLUMNS)})",
            [[fixed[name] if name in fixed else row.get(name) for name in COLUMNS] for row in rows],
        )
