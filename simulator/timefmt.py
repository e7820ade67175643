"""Timestamps: local UTC offsets (DST-correct) and ISO-8601 string formatting, vectorized."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import IntEnum

import numpy as np
import polars as pl
import pyarrow as pa

from simulator.ids import from_matrix

HOUR = 3600


class Notation(IntEnum):
    """How a timestamp string is written. Only LOCAL is the systems' normal notation."""

    LOCAL = 0  # 2025-03-01T14:22:11+01:00
    ZULU = 1  # 2025-03-01T13:22:11Z
    ZULU_SPACE = 2  # 2025-03-01 13:22:11Z
    SPACE = 3  # 2025-03-01 14:22:11+01:00
    OTHER_OFFSET = 4  # 2025-03-01T08:22:11-05:00 (same instant)
    NO_OFFSET = 5  # 2025-03-01T14:22:11 (cannot be placed in time)


def day_epoch(day: date) -> int:
    """UTC epoch seconds of midnight UTC of `day`."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


class Zones:
    """IANA zones by code, with their UTC-offset history precomputed on an hourly grid.

    All transitions of the zones used here fall on whole UTC hours, so an hourly grid is exact.
    Instants outside [first, last] use the offset at the nearest end.
    """

    def __init__(self, names: list[str], first_utc: int, last_utc: int):
        self.names = names
        self.base = first_utc - first_utc % HOUR
        grid = np.arange(self.base, last_utc + HOUR, HOUR, dtype=np.int64)
        self.span = int(grid[-1] - self.base) + 1  # keys: code * span + seconds since base
        keys: list[np.ndarray] = []
        values: list[np.ndarray] = []
        utc = pl.Series(grid * 1_000_000).cast(pl.Datetime("us", "UTC"))
        for code, name in enumerate(names):
            local = utc.dt.convert_time_zone(name).dt.replace_time_zone(None).cast(pl.Int64).to_numpy()
            offset = local // 1_000_000 - grid
            change = np.concatenate([[0], np.flatnonzero(np.diff(offset)) + 1])
            keys.append(code * self.span + grid[change] - self.base)
            values.append(offset[change])
        self.keys = np.concatenate(keys)
        self.values = np.concatenate(values)

    def code(self, name: str) -> int:
        return self.names.index(name)

    def offsets(self, utc: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """UTC offset in seconds of each instant in its zone."""
        since = np.clip(np.asarray(utc, dtype=np.int64) - self.base, 0, self.span - 1)
        key = np.asarray(codes, dtype=np.int64) * self.span + since
        return self.values[np.searchsorted(self.keys, key, side="right") - 1]

    def local_midnights(self, day: date) -> np.ndarray:
        """UTC instant of local midnight of `day` in every zone (offset taken at noon UTC)."""
        base = day_epoch(day)
        noon = np.full(len(self.names), base + 12 * HOUR, dtype=np.int64)
        return base - self.offsets(noon, np.arange(len(self.names)))


def _civil(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month, day from days since 1970-01-01 (proleptic Gregorian)."""
    z = days + 719_468
    era = np.floor_divide(z, 146_097)
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = np.where(mp < 10, mp + 3, mp - 9)
    y = yoe + era * 400 + (m <= 2)
    return y, m, d


# Character layout of 'YYYY-MM-DDTHH:MM:SS+HH:MM': (field, power of ten) per digit position.
_FIELDS = {"year": 0, "month": 1, "day": 2, "hour": 3, "minute": 4, "second": 5, "off_h": 6, "off_m": 7}
_LAYOUT = [
    (0, "year", 3), (1, "year", 2), (2, "year", 1), (3, "year", 0),
    (5, "month", 1), (6, "month", 0), (8, "day", 1), (9, "day", 0),
    (11, "hour", 1), (12, "hour", 0), (14, "minute", 1), (15, "minute", 0),
    (17, "second", 1), (18, "second", 0), (20, "off_h", 1), (21, "off_h", 0),
    (23, "off_m", 1), (24, "off_m", 0),
]  # fmt: skip
_POSITIONS = np.array([p for p, _, _ in _LAYOUT])
_FIELD_OF = np.array([_FIELDS[f] for _, f, _ in _LAYOUT])
_POWER_OF = 10 ** np.array([e for _, _, e in _LAYOUT], dtype=np.int64)
_TEMPLATE = np.frombuffer(b"0000-00-00T00:00:00+00:00", dtype=np.uint8)


def _iso_matrix(local: np.ndarray, offsets: np.ndarray | None) -> np.ndarray:
    """ASCII matrix 'YYYY-MM-DDTHH:MM:SS' (+ '+HH:MM' when offsets are given)."""
    days, secs = np.divmod(local, 86_400)
    y, m, d = _civil(days)
    minutes = np.abs(offsets) // 60 if offsets is not None else np.zeros_like(local)
    fields = np.stack(
        [y, m, d, secs // 3600, secs // 60 % 60, secs % 60, minutes // 60, minutes % 60], axis=1
    )
    out = np.broadcast_to(_TEMPLATE, (local.shape[0], _TEMPLATE.size)).copy()
    out[:, _POSITIONS] = (fields[:, _FIELD_OF] // _POWER_OF) % 10 + 48
    if offsets is None:
        return out[:, :19]
    out[:, 19] = np.where(offsets < 0, ord("-"), ord("+"))
    return out


def format_local(utc: np.ndarray, offsets: np.ndarray) -> pa.StringArray:
    """The systems' normal notation: local time with its offset, e.g. 2025-03-01T14:22:11+01:00."""
    utc = np.asarray(utc, dtype=np.int64)
    offsets = np.asarray(offsets, dtype=np.int64)
    return from_matrix(_iso_matrix(utc + offsets, offsets))


def format_timestamps(
    utc: np.ndarray,
    offsets: np.ndarray,
    notation: np.ndarray | None = None,
    alt_offsets: np.ndarray | None = None,
) -> pa.StringArray:
    """ISO strings of `utc` instants shown at `offsets` (seconds), optionally in other notations."""
    utc = np.asarray(utc, dtype=np.int64)
    offsets = np.asarray(offsets, dtype=np.int64)
    if notation is None:
        return format_local(utc, offsets)
    shown = offsets.copy()
    if alt_offsets is not None:
        other = notation == Notation.OTHER_OFFSET
        shown[other] = alt_offsets[other]
    zulu = (notation == Notation.ZULU) | (notation == Notation.ZULU_SPACE)
    shown[zulu] = 0
    text = [bytes(row) for row in _iso_matrix(utc + shown, shown)]
    result: list[str] = []
    for raw, kind in zip(text, notation.tolist(), strict=True):
        value = raw.decode("ascii")
        if kind in (Notation.SPACE, Notation.ZULU_SPACE):
            value = value[:10] + " " + value[11:]
        if kind in (Notation.ZULU, Notation.ZULU_SPACE):
            value = value[:19] + "Z"
        elif kind == Notation.NO_OFFSET:
            value = value[:19]
        result.append(value)
    return pa.array(result, type=pa.string())
