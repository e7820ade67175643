"""The drift reference stored with a model version (`drift_reference.json` in its artifact): for every
feature and for the model's output, the bins and the share of the out-of-time test rows in each:
the latest labelled data the model was not fitted on, the population it is deployed right after
(the training rows reach back a year and lag the present; the output on them is over-confident).

Numeric columns are cut at the reference rows' quantiles (ties merged), categorical ones keep their
most frequent values and pool the rest; missing values have a bin of their own on both kinds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

PREDICTION = "__prediction__"
OTHER = "__other__"
MAX_CATEGORIES = 30
FORMAT_VERSION = 2  # 1: the counts were called baseline_counts (read as well)
READABLE_VERSIONS = (1, 2)


@dataclass(frozen=True)
class Binning:
    """How one column is binned; `counts` sorts a sample into the same bins as the reference."""

    name: str
    kind: Literal["numeric", "categorical", "prediction"]
    edges: tuple[float, ...] = ()  # numeric: bin i holds edges[i-1] < x <= edges[i]; then > last
    categories: tuple[str, ...] = ()  # categorical: one bin each, then OTHER
    reference_counts: tuple[int, ...] = ()  # per bin, the last bin being missing values

    @property
    def reference_size(self) -> int:
        return int(sum(self.reference_counts))

    def counts(self, values: pl.Series) -> np.ndarray:
        missing = values.is_null()
        if self.kind == "categorical":
            known = {value: index for index, value in enumerate(self.categories)}
            codes = np.array(
                [known.get(v, len(self.categories)) for v in values.drop_nulls().cast(pl.String).to_list()],
                dtype=np.int64,
            )
            bins = len(self.categories) + 1
        else:
            numbers = values.drop_nulls().cast(pl.Float64).to_numpy()
            missing = missing | values.cast(pl.Float64).is_nan().fill_null(False)
            numbers = numbers[~np.isnan(numbers)]
            codes = np.searchsorted(np.asarray(self.edges, dtype=np.float64), numbers, side="left")
            bins = len(self.edges) + 1
        counts = np.bincount(codes, minlength=bins).astype(np.int64)
        return np.append(counts, int(missing.sum()))

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "edges": list(self.edges),
            "categories": list(self.categories),
            "reference_counts": list(self.reference_counts),
        }

    @classmethod
    def from_json(cls, data: dict) -> Binning:
        return cls(
            name=data["name"],
            kind=data["kind"],
            edges=tuple(float(x) for x in data["edges"]),
            categories=tuple(data["categories"]),
            reference_counts=tuple(int(x) for x in data.get("reference_counts", data.get("baseline_counts"))),
        )


def numeric_binning(
    name: str, values: pl.Series, bins: int, kind: Literal["numeric", "prediction"]
) -> Binning:
    numbers = values.drop_nulls().cast(pl.Float64).to_numpy()
    numbers = numbers[~np.isnan(numbers)]
    if numbers.size:
        quantiles = np.quantile(numbers, np.linspace(0, 1, bins + 1)[1:-1], method="lower")
        edges = tuple(float(x) for x in np.unique(quantiles))
    else:
        edges = ()
    draft = Binning(name, kind, edges=edges)
    return Binning(name, kind, edges=edges, reference_counts=tuple(int(c) for c in draft.counts(values)))


def categorical_binning(name: str, values: pl.Series) -> Binning:
    frequent = (
        values.drop_nulls()
        .cast(pl.String)
        .value_counts(name="n")
        .sort(["n", values.name], descending=[True, False])
        .head(MAX_CATEGORIES)
    )
    categories = tuple(sorted(frequent[values.name].to_list()))
    draft = Binning(name, "categorical", categories=categories)
    return Binning(
        name,
        "categorical",
        categories=categories,
        reference_counts=tuple(int(c) for c in draft.counts(values)),
    )


@dataclass(frozen=True)
class DriftReference:
    binnings: dict[str, Binning]  # feature name (and PREDICTION) -> binning

    def to_json(self) -> dict:
        return {"format_version": FORMAT_VERSION, "columns": [b.to_json() for b in self.binnings.values()]}

    @classmethod
    def from_json(cls, data: dict) -> DriftReference:
        if data.get("format_version") not in READABLE_VERSIONS:
            raise ValueError(
                f"drift reference format {data.get('format_version')!r}, expected one of {READABLE_VERSIONS}"
            )
        binnings = [Binning.from_json(item) for item in data["columns"]]
        return cls({b.name: b for b in binnings})


def build_reference(
    frame: pl.DataFrame,
    numeric: tuple[str, ...],
    categorical: tuple[str, ...],
    predictions: np.ndarray,
    bins: int,
) -> DriftReference:
    """Bins and reference counts of every feature in `frame`, and of the model's `predictions`."""
    binnings: dict[str, Binning] = {}
    for name in numeric:
        binnings[name] = numeric_binning(name, frame[name], bins, "numeric")
    for name in categorical:
        binnings[name] = categorical_binning(name, frame[name])
    binnings[PREDICTION] = numeric_binning(PREDICTION, pl.Series(PREDICTION, predictions), bins, "prediction")
    return DriftReference(binnings)
