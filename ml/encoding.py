"""Categorical features as integer codes for LightGBM's native categorical handling.

The code book is fitted once, on the training rows, stored with the model, and applied unchanged at
scoring: a value never seen in training becomes missing (NaN), never a new code.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import polars as pl

# Up to this many rows (the online API scores one payment or a small batch), codes are looked up in
# dicts: building polars expressions costs ~0.3 ms a call, more than a few rows' lookups. Larger
# frames use polars' vectorised replace. Both give the same frame (tests/ml/test_encoding.py).
SMALL_FRAME_ROWS = 256


@dataclass(frozen=True)
class CodeBook:
    categories: dict[str, tuple[str, ...]]  # feature -> sorted training values; code = position

    @classmethod
    def fit(cls, frame: pl.DataFrame, features: tuple[str, ...]) -> CodeBook:
        return cls(
            {
                feature: tuple(sorted(frame[feature].drop_nulls().cast(pl.String).unique().to_list()))
                for feature in features
            }
        )

    @cached_property
    def _lookup(self) -> dict[str, dict[str, float]]:
        return {
            feature: {v: float(i) for i, v in enumerate(values)}
            for feature, values in self.categories.items()
        }

    def codes(self, feature: str) -> dict[str, float] | None:
        """Value -> code of a categorical feature (None: the feature is not categorical)."""
        return self._lookup.get(feature)

    @cached_property
    def _mappings(self) -> dict[str, tuple[pl.Series, pl.Series]]:
        return {
            feature: (
                pl.Series("_value", list(values), dtype=pl.String),
                pl.Series("_code", [float(i) for i in range(len(values))], dtype=pl.Float64),
            )
            for feature, values in self.categories.items()
        }

    def encode(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Replace each categorical column by its code (Float64; unknown and null -> null)."""
        if not self.categories:
            return frame
        if frame.height <= SMALL_FRAME_ROWS:
            return frame.with_columns(
                pl.Series(
                    feature,
                    [lookup.get(v) for v in frame[feature].cast(pl.String).to_list()],
                    dtype=pl.Float64,
                )
                for feature, lookup in self._lookup.items()
            )
        return frame.with_columns(
            pl.col(feature)
            .cast(pl.String)
            .replace_strict(values, codes, default=None, return_dtype=pl.Float64)
            .alias(feature)
            for feature, (values, codes) in self._mappings.items()
        )

    def to_json(self) -> dict[str, list[str]]:
        return {feature: list(values) for feature, values in self.categories.items()}

    @classmethod
    def from_json(cls, data: dict[str, list[str]]) -> CodeBook:
        return cls({feature: tuple(values) for feature, values in data.items()})
