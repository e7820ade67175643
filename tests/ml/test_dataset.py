"""The training rows' fingerprint: what decides whether a model is retrained."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest

from ml.dataset import LabelledData, Window

WINDOW = Window(
    cutoff=datetime(2026, 3, 1),
    matured_until=datetime(2026, 2, 1),
    test_start=datetime(2026, 1, 15),
    validation_start=datetime(2026, 1, 1),
    train_start=None,
)


def labelled(frame: pl.DataFrame) -> LabelledData:
    return LabelledData(frame=frame, window=WINDOW)


@pytest.fixture
def frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "payment_id": ["p1", "p2", None, "p4"],
            "channel": ["online", "in_store", "online", ""],
            "amount_usd": [1.5, None, 3.0, 4.25],
            "_label": [0, 1, 0, 0],
        }
    )


def test_same_rows_same_fingerprint_whatever_the_chunks(frame: pl.DataFrame) -> None:
    chunked = pl.concat([frame.slice(0, 1), frame.slice(1, 3)], rechunk=False)
    assert chunked.n_chunks() == 2
    assert labelled(chunked).fingerprint == labelled(frame).fingerprint
    assert labelled(frame.clone()).fingerprint == labelled(frame).fingerprint


@pytest.mark.parametrize(
    "change",
    [
        pl.col("channel").str.replace("in_store", "in_stor"),  # one byte of one string
        pl.col("payment_id").fill_null(""),  # a null string is not an empty one
        pl.col("amount_usd").fill_null(0.0),  # nor a null number a zero
        pl.col("_label").reverse(),
    ],
)
def test_any_changed_value_changes_the_fingerprint(frame: pl.DataFrame, change: pl.Expr) -> None:
    assert labelled(frame.with_columns(change)).fingerprint != labelled(frame).fingerprint


def test_moving_a_byte_between_neighbouring_strings_changes_the_fingerprint() -> None:
    one = pl.DataFrame({"k": ["ab", "c"]})
    other = pl.DataFrame({"k": ["a", "bc"]})
    assert labelled(one).fingerprint != labelled(other).fingerprint


def test_a_sliced_frame_hashes_only_its_rows(frame: pl.DataFrame) -> None:
    assert labelled(frame.slice(1, 2)).fingerprint == labelled(frame.slice(1, 2).clone()).fingerprint
    assert labelled(frame.slice(1, 2)).fingerprint != labelled(frame.slice(0, 2)).fingerprint
