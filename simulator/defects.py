"""Data-quality defects the source systems produce, injected deterministically at about `defect_rate`."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from simulator.files import RAW, csv_lines
from simulator.ids import digit_ids, hex_ids
from simulator.schema import TABLES
from simulator.tables import Batch, money
from simulator.timefmt import Notation, format_timestamps

ALT_OFFSETS = np.array([-5 * 3600, -8 * 3600, 0, 3600, 2 * 3600, 19_800, 9 * 3600])
GARBAGE_LINES = (
    "<html><body><h1>502 Bad Gateway</h1></body></html>",
    "#### export interrupted, resuming ####",
    "ÿþ?? ?? binary junk ??",
    "chargeback_id;payment_id;received_at;reason_code;amount;currency",
    "-- end of batch --",
)
ABSURD_CENTS = (-1200, 999_999_999)
BAD_QUANTITIES = np.array([0, -1, -2, 100_000])


@dataclass(frozen=True)
class DefectSpec:
    """Which defects a table can carry (duplicates and timestamp notations apply to every table)."""

    nulls: tuple[str, ...] = ()
    amounts: tuple[str, ...] = ()
    quantities: tuple[str, ...] = ()
    currencies: tuple[str, ...] = ()
    orphan: tuple[str, str] | None = None  # (column, what it points at)
    late: bool = False
    malformed_csv: bool = False


SPECS: dict[str, DefectSpec] = {
    "customers": DefectSpec(nulls=("email", "customer_id")),
    "products": DefectSpec(),
    "product_prices": DefectSpec(),
    "promotions": DefectSpec(),
    "orders": DefectSpec(nulls=("order_id", "store_id"), late=True),
    "order_items": DefectSpec(
        nulls=("order_id", "product_id"),
        amounts=("unit_price",),
        quantities=("quantity",),
        currencies=("currency",),
        orphan=("product_id", "product"),
        late=True,
    ),
    "payments": DefectSpec(
        nulls=("payment_id", "order_id", "amount"),
        amounts=("amount",),
        currencies=("currency",),
        orphan=("order_id", "order"),
        late=True,
    ),
    "cards": DefectSpec(nulls=("card_fingerprint",)),
    "devices": DefectSpec(),
    "chargebacks": DefectSpec(
        nulls=("payment_id", "amount"),
        amounts=("amount",),
        currencies=("currency",),
        orphan=("payment_id", "payment"),
        late=True,
        malformed_csv=True,
    ),
}


@dataclass
class Deferred:
    """Rows that land in a later partition, as their own part file."""

    target_day: int
    batch: Batch
    kind: str  # "late_rows" | "duplicate_rows"


class DefectLog:
    """Counts of injected defect rows per table and kind (written to oracle/defects.json)."""

    def __init__(self) -> None:
        self.counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def add(self, table: str, kind: str, n: int) -> None:
        if n:
            self.counts[table][kind] += int(n)

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {t: dict(sorted(self.counts.get(t, {}).items())) for t in TABLES}

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.as_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _replace(table: pa.Table, column: str, rows: np.ndarray, values: pa.Array) -> pa.Table:
    if rows.size == 0:
        return table
    mask = np.zeros(table.num_rows, dtype=bool)
    mask[rows] = True
    col = table.column(column).combine_chunks()
    updated = pc.replace_with_mask(col, pa.array(mask), values.cast(col.type))
    return table.set_column(table.schema.get_field_index(column), column, updated)


def _cents(column: pa.ChunkedArray) -> np.ndarray:
    values = pc.multiply(pc.cast(column, pa.float64()), 100.0).fill_null(0.0)
    return np.rint(values.to_numpy()).astype(np.int64)


class Injector:
    """Applies every defect kind to one Batch with its own random stream."""

    def __init__(self, rate: float, rng: np.random.Generator, log: DefectLog):
        self.rate, self.rng, self.log = rate, rng, log

    def pick(self, n: int, rate: float | None = None) -> np.ndarray:
        return np.flatnonzero(self.rng.random(n) < (self.rate if rate is None else rate))

    def timestamps(self, batch: Batch) -> None:
        for name, ts in batch.ts.items():
            u = self.rng.random(batch.num_rows)
            alternate = u < self.rate
            missing = (u >= self.rate) & (u < self.rate * 1.25)
            rows = np.flatnonzero(alternate | missing)
            if rows.size == 0:
                continue
            notation = np.where(
                missing[rows],
                Notation.NO_OFFSET,
                self.rng.choice(
                    [Notation.ZULU, Notation.ZULU_SPACE, Notation.SPACE, Notation.OTHER_OFFSET], rows.size
                ),
            ).astype(np.int8)
            alt = self.rng.choice(ALT_OFFSETS, rows.size)
            alt = np.where(alt == ts.offset[rows], alt + 3600, alt)
            text = format_timestamps(ts.utc[rows], ts.offset[rows], notation, alt)
            batch.table = _replace(batch.table, name, rows, text)
            self.log.add(batch.name, "tz_alternate_notation", int(alternate.sum()))
            self.log.add(batch.name, "tz_missing_offset", int(missing.sum()))

    def nulls(self, batch: Batch, columns: tuple[str, ...]) -> None:
        rows = self.pick(batch.num_rows)
        if rows.size == 0 or not columns:
            return
        which = self.rng.integers(0, len(columns), rows.size)
        for i, column in enumerate(columns):
            chosen = rows[which == i]
            dtype = batch.table.schema.field(column).type
            batch.table = _replace(batch.table, column, chosen, pa.nulls(chosen.size, dtype))
            self.log.add(batch.name, f"null_{column}", chosen.size)

    def amounts(self, batch: Batch, column: str) -> None:
        rows = self.pick(batch.num_rows)
        if rows.size == 0:
            return
        cents = _cents(batch.table.column(column).take(pa.array(rows)))
        style = self.rng.random(rows.size)
        negated = np.where(cents == 0, ABSURD_CENTS[0], -np.abs(cents))
        bad = np.where(style < 0.4, negated, np.where(style < 0.7, ABSURD_CENTS[0], ABSURD_CENTS[1]))
        batch.table = _replace(batch.table, column, rows, money(bad))
        self.log.add(batch.name, f"bad_{column}", rows.size)

    def quantities(self, batch: Batch, column: str) -> None:
        rows = self.pick(batch.num_rows)
        if rows.size == 0:
            return
        values = pa.array(self.rng.choice(BAD_QUANTITIES, rows.size).astype(np.int32))
        batch.table = _replace(batch.table, column, rows, values)
        self.log.add(batch.name, f"bad_{column}", rows.size)

    def currencies(self, batch: Batch, column: str) -> None:
        rows = self.pick(batch.num_rows)
        if rows.size == 0:
            return
        values = pa.array(np.where(self.rng.random(rows.size) < 0.5, "XXX", "ZZZ").tolist(), type=pa.string())
        batch.table = _replace(batch.table, column, rows, values)
        self.log.add(batch.name, f"unknown_{column}", rows.size)

    def orphans(self, batch: Batch, column: str, target: str) -> None:
        rows = self.pick(batch.num_rows)
        if rows.size == 0:
            return
        if target == "order":
            values = digit_ids("ORD-9", self.rng.integers(0, 10**8, rows.size), 8)
        elif target == "product":
            values = digit_ids("P9", self.rng.integers(0, 10**4, rows.size), 4)
        else:
            words = self.rng.integers(0, 2**63, rows.size, dtype=np.int64).astype(np.uint64) | np.uint64(
                2**63
            )
            values = hex_ids("pay_", words)
        batch.table = _replace(batch.table, column, rows, values)
        self.log.add(batch.name, f"orphan_{column}", rows.size)

    def late(self, batch: Batch, day: int) -> tuple[Batch, list[Deferred]]:
        rows = self.pick(batch.num_rows)
        if rows.size == 0:
            return batch, []
        delay = self.rng.integers(1, 4, rows.size)
        deferred = [
            Deferred(day + int(d), batch.take(rows[delay == d]), "late_rows") for d in np.unique(delay)
        ]
        keep = np.ones(batch.num_rows, dtype=bool)
        keep[rows] = False
        return batch.take(np.flatnonzero(keep)), deferred

    def duplicates(self, batch: Batch, day: int) -> tuple[Batch, list[Deferred]]:
        rows = self.pick(batch.num_rows)
        if rows.size == 0:
            return batch, []
        later = self.rng.random(rows.size) < 0.5
        delay = self.rng.integers(1, 6, rows.size)
        same = rows[~later]
        self.log.add(batch.name, "duplicate_rows", same.size)
        deferred = [
            Deferred(day + int(d), batch.take(rows[later & (delay == d)]), "duplicate_rows")
            for d in np.unique(delay[later])
        ]
        if same.size:
            batch = batch.take(np.concatenate([np.arange(batch.num_rows), same]))
        return batch, deferred

    def malformed_csv(self, batch: Batch) -> None:
        """Corrupt a few rows' text (field count, quoting) and add garbage lines."""
        n = batch.num_rows
        raw: list[str | None] = [None] * n
        rows = self.pick(n)
        kind = self.rng.random(rows.size)
        texts = csv_lines(batch.table.take(pa.array(rows))) if rows.size else []
        position = np.arange(n, dtype=np.float64)
        extra: list[str] = []
        extra_pos: list[float] = []
        counts = {
            "malformed_wrong_field_count": 0,
            "malformed_unterminated_quote": 0,
            "malformed_garbage_line": 0,
        }
        for row, k, text in zip(rows.tolist(), kind.tolist(), texts, strict=True):
            fields = text.split(",")
            if k < 0.4:
                raw[row] = ",".join(fields[:-1]) if k < 0.2 else text + ",EXTRA"
                counts["malformed_wrong_field_count"] += 1
            elif k < 0.7:
                # Unclosed quote; moved to the end of the file so that it cannot swallow intact lines.
                raw[row] = ",".join([fields[0], '"' + fields[1], *fields[2:]])
                position[row] = n + row
                counts["malformed_unterminated_quote"] += 1
            else:
                extra.append(GARBAGE_LINES[row % len(GARBAGE_LINES)])
                extra_pos.append(row + 0.5)
                counts["malformed_garbage_line"] += 1
        for kind_name, count in counts.items():
            self.log.add(batch.name, kind_name, count)
        table = batch.table.append_column(RAW, pa.array(raw, type=pa.string()))
        if extra:
            nulls = {f.name: pa.nulls(len(extra), f.type) for f in table.schema if f.name != RAW}
            garbage = pa.table({**nulls, RAW: pa.array(extra, type=pa.string())}, schema=table.schema)
            table = pa.concat_tables([table, garbage])
            position = np.concatenate([position, np.array(extra_pos)])
        batch.table = table.take(pa.array(np.argsort(position, kind="stable")))
        batch.ts = {}


def inject(
    batch: Batch, day: int, rate: float, rng: np.random.Generator, log: DefectLog
) -> tuple[Batch, list[Deferred]]:
    """Return the on-time batch and the rows deferred to later partitions."""
    if rate <= 0 or batch.num_rows == 0:
        return batch, []
    spec = SPECS[batch.name]
    injector = Injector(rate, rng, log)
    injector.timestamps(batch)
    injector.nulls(batch, spec.nulls)
    for column in spec.amounts:
        injector.amounts(batch, column)
    for column in spec.quantities:
        injector.quantities(batch, column)
    for column in spec.currencies:
        injector.currencies(batch, column)
    if spec.orphan is not None:
        injector.orphans(batch, *spec.orphan)
    deferred: list[Deferred] = []
    if spec.late:
        batch, late = injector.late(batch, day)
        deferred += late
    batch, resent = injector.duplicates(batch, day)
    deferred += resent
    if spec.malformed_csv:
        injector.malformed_csv(batch)
    return batch, deferred
