"""Categorical features as integer codes for LightGBM's native categorical handling.

The code book is fitted once, on the training rows, stored with the model, and applied unchanged at
scoring: a value never seen in training becomes missing (NaN), never a new code.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl


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

    def encode(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Replace each categorical column by its code (Float64; unknown and null -> null)."""
        replacements = []
        for feature, values in self.categories.items():
            mapping = pl.DataFrame(
                {"_value": list(values), "_code": list(range(len(values)))},
                schema={"_value": pl.String, "_code": pl.Float64},
            )
            replacements.append(
                pl.col(feature)
                .cast(pl.String)
                .replace_strict(mapping["_value"], mapping["_code"], default=None, return_dtype=pl.Float64)
                .alias(feature)
            )
        return frame.with_columns(replacements) if replacements else frame

    def to_json(self) -> dict[str, list[str]]:
        return {feature: list(values) for feature, values in self.categories.items()}

    @classmethod
    def from_json(cls, data: dict[str, list[str]]) -> CodeBook:
        return cls({feature: tuple(values) for feature, values in data.items()})
