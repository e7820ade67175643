"""Vectorized construction of fixed-width identifier strings as Arrow arrays."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def from_matrix(chars: np.ndarray, valid: np.ndarray | None = None) -> pa.StringArray:
    """Turn an (n, width) uint8 matrix of ASCII codes into an Arrow string array."""
    n, width = chars.shape
    offsets = (np.arange(n + 1, dtype=np.int64) * width).astype(np.int32)
    data = np.ascontiguousarray(chars, dtype=np.uint8).tobytes()
    validity = None
    if valid is not None and not bool(valid.all()):
        validity = pa.py_buffer(np.packbits(valid, bitorder="little").tobytes())
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets.tobytes()), pa.py_buffer(data), validity)


def _with_prefix(prefix: str, body: np.ndarray) -> np.ndarray:
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    return np.concatenate([np.broadcast_to(head, (body.shape[0], head.size)), body], axis=1)


def digit_ids(
    prefix: str, numbers: np.ndarray, width: int, valid: np.ndarray | None = None
) -> pa.StringArray:
    """`prefix` + zero-padded decimal `numbers` (non-negative, below 10**width)."""
    values = np.asarray(numbers, dtype=np.int64)
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    body = ((values[:, None] // powers[None, :]) % 10 + 48).astype(np.uint8)
    return from_matrix(_with_prefix(prefix, body), valid)


def hex_ids(prefix: str, words: np.ndarray, valid: np.ndarray | None = None) -> pa.StringArray:
    """`prefix` + lowercase hex of uint64 `words` (shape (n,) or (n, k)), 16 hex chars per word."""
    matrix = np.asarray(words, dtype=np.uint64)
    if matrix.ndim == 1:
        matrix = matrix[:, None]
    raw = matrix.astype(">u8").view(np.uint8).reshape(matrix.shape[0], matrix.shape[1] * 8)
    body = np.empty((raw.shape[0], raw.shape[1] * 2), dtype=np.uint8)
    body[:, 0::2] = _HEX[raw >> 4]
    body[:, 1::2] = _HEX[raw & 15]
    return from_matrix(_with_prefix(prefix, body), valid)


@lru_cache(maxsize=256)
def _dictionary(values: tuple[str, ...]) -> pa.StringArray:
    return pa.array(values, type=pa.string())


def take_strings(values: list[str], indices: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """Look up `values[indices]` as an Arrow string array (nulls where `valid` is False)."""
    idx = np.asarray(indices, dtype=np.int64)
    if valid is not None:
        idx = np.where(valid, idx, 0)
    result = _dictionary(tuple(values)).take(pa.array(idx))
    if valid is not None and not bool(valid.all()):
        result = pc.if_else(pa.array(valid), result, pa.scalar(None, pa.string()))
    return result
