"""A day's rows of one table: the Arrow table plus the raw instants behind its timestamp strings."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from simulator.schema import MONEY, TABLES
from simulator.timefmt import format_timestamps


@dataclass
class TsColumn:
    """Instants (UTC epoch seconds) and the local offsets they are exported with."""

    utc: np.ndarray
    offset: np.ndarray

    def take(self, indices: np.ndarray) -> TsColumn:
        return TsColumn(self.utc[indices], self.offset[indices])


@dataclass
class Batch:
    """Rows of one table ready for defect injection and writing."""

    name: str
    table: pa.Table
    ts: dict[str, TsColumn] = field(default_factory=dict)

    @property
    def num_rows(self) -> int:
        return self.table.num_rows

    def take(self, indices: np.ndarray) -> Batch:
        idx = np.asarray(indices, dtype=np.int64)
        return Batch(self.name, self.table.take(pa.array(idx)), {k: v.take(idx) for k, v in self.ts.items()})


def money(cents: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """decimal(12,2) array from integer cents, built exactly (no float rounding)."""
    values = np.asarray(cents, dtype=np.int64)
    words = np.empty((values.shape[0], 2), dtype=np.int64)
    words[:, 0] = values
    words[:, 1] = np.where(values < 0, -1, 0)
    validity = None
    if valid is not None and not bool(valid.all()):
        validity = pa.py_buffer(np.packbits(valid, bitorder="little").tobytes())
    return pa.Array.from_buffers(MONEY, values.shape[0], [validity, pa.py_buffer(words.tobytes())])


def make_batch(name: str, columns: dict[str, pa.Array | np.ndarray | TsColumn]) -> Batch:
    """Build a Batch in contract column order; TsColumn values become formatted strings."""
    schema = TABLES[name].schema
    arrays: list[pa.Array] = []
    ts: dict[str, TsColumn] = {}
    for fld in schema:
        value = columns[fld.name]
        if isinstance(value, TsColumn):
            ts[fld.name] = value
            value = format_timestamps(value.utc, value.offset)
        arrays.append(
            pa.array(value, type=fld.type) if not isinstance(value, pa.Array) else value.cast(fld.type)
        )
    if set(columns) != set(schema.names):
        raise KeyError(
            f"{name}: columns {sorted(set(columns) ^ set(schema.names))} do not match the contract"
        )
    return Batch(name, pa.Table.from_arrays(arrays, schema=schema), ts)
