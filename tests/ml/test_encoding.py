"""The code book's two ways of encoding (dict lookups for the API's few rows, polars for batches)
give the same frame, and the feature matrix (from a frame or from the API's rows) equals a one-query
conversion, nulls as NaN."""

from __future__ import annotations

import numpy as np
import polars as pl

from ml import dataset, encoding
from ml.dataset import encoded_matrix, rows_matrix, to_matrix
from ml.encoding import CodeBook


def frame(rows: int) -> pl.DataFrame:
    countries = ["US", "GB", None, "ZZ", "DE"]  # ZZ: never seen in training
    return pl.DataFrame(
        {
            "amount": [float(i) if i % 7 else None for i in range(rows)],
            "is_new": [i % 3 == 0 for i in range(rows)],
            "country": [countries[i % len(countries)] for i in range(rows)],
            "channel": ["online" if i % 2 else "in_store" for i in range(rows)],
        }
    )


def test_small_and_large_frames_are_encoded_alike(monkeypatch) -> None:
    book = CodeBook.fit(frame(50), ("country", "channel"))
    assert book.categories["country"] == ("DE", "GB", "US", "ZZ")
    sample = frame(40).with_columns(pl.col("country").replace("ZZ", "FR"))  # FR: unknown -> null
    small = book.encode(sample)
    monkeypatch.setattr(encoding, "SMALL_FRAME_ROWS", 0)
    large = book.encode(sample)
    assert small.equals(large)
    assert small.schema["country"] == pl.Float64
    assert small["country"].to_list()[:5] == [2.0, 1.0, None, None, 0.0]


def test_the_matrix_equals_a_one_query_conversion() -> None:
    encoded = CodeBook.fit(frame(30), ("country", "channel")).encode(frame(30))
    columns = ("amount", "is_new", "country", "channel")
    reference = encoded.select([pl.col(c).cast(pl.Float64) for c in columns]).to_numpy()
    matrix = to_matrix(encoded, columns)
    assert matrix.dtype == np.float64 and matrix.shape == (30, 4)
    assert np.array_equal(matrix, reference, equal_nan=True)
    assert np.isnan(matrix[0, 0]) and matrix[0, 1] == 1.0
    assert to_matrix(encoded.head(0), columns).shape == (0, 4)


def test_the_online_matrix_equals_the_encoded_frames_matrix(monkeypatch) -> None:
    """The API's path (lookups straight into the matrix) and the batch path (encode, then convert)
    give the same matrix, bit for bit, with unknown and null categories and null numbers."""
    book = CodeBook.fit(frame(50), ("country", "channel"))
    columns = ("amount", "is_new", "country", "channel")
    sample = frame(40).with_columns(pl.col("country").replace("ZZ", "FR"))  # FR: unknown
    online = encoded_matrix(sample, book, columns)
    assert np.isnan(online[2, 2]) and np.isnan(online[3, 2])  # null, unknown
    np.testing.assert_array_equal(online, to_matrix(book.encode(sample), columns))
    monkeypatch.setattr(dataset, "SMALL_FRAME_ROWS", 0)  # the batch path, through the same function
    np.testing.assert_array_equal(online, encoded_matrix(sample, book, columns))


def test_the_rows_matrix_equals_the_frames_matrix() -> None:
    """The API scores the feature store's rows without building a frame: the same matrix, bit for
    bit, as the frame of those rows through the batch path."""
    book = CodeBook.fit(frame(50), ("country", "channel"))
    columns = ("amount", "is_new", "country", "channel")
    sample = frame(40).with_columns(pl.col("country").replace("ZZ", "FR"))  # FR: unknown
    rows = list(sample.select(columns).iter_rows())
    from_rows = rows_matrix(rows, book, columns)
    assert np.isnan(from_rows[0, 0]) and np.isnan(from_rows[2, 2]) and np.isnan(from_rows[3, 2])
    np.testing.assert_array_equal(from_rows, to_matrix(book.encode(sample), columns))
    assert rows_matrix([], book, columns).shape == (0, 4)
