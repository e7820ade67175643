"""Partitioned landing-zone writer (parquet and CSV) and the oracle writers."""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from simulator.config import FRAUD_PATTERN
from simulator.defects import DefectLog, Deferred
from simulator.schema import (
    ORACLE_DEMAND_SCHEMA,
    ORACLE_PAYMENTS_SCHEMA,
    ORACLE_REGIME_PAYMENTS_SCHEMA,
    TABLES,
)
from simulator.sink import FileSink
from simulator.tables import Batch


def reset_dir(path: Path) -> Path | None:
    """Empty `path` (recreated), so reruns produce identical trees.

    The previous tree is moved aside to a hidden sibling and returned for `discard` after the run:
    deleting thousands of files right before creating thousands more is slow on some filesystems.
    """
    aside = path.with_name(f".{path.name}.previous")
    if aside.exists():
        shutil.rmtree(aside)
    moved = None
    if path.exists():
        path.rename(aside)
        moved = aside
    path.mkdir(parents=True)
    return moved


def discard(path: Path | None) -> None:
    if path is not None and path.exists():
        shutil.rmtree(path)


@dataclass
class LandingWriter:
    """Writes part-00000 for a day's regular export, part-00001.. for late files and re-sends."""

    root: Path
    start: date
    log: DefectLog
    pending: dict[int, list[Deferred]] = field(default_factory=lambda: defaultdict(list))
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    files: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    sink: FileSink = field(default_factory=FileSink)

    def _write(self, table_name: str, day: int, part: int, table: pa.Table) -> None:
        spec = TABLES[table_name]
        folder = self.root / spec.system / spec.name / f"date={self.start + timedelta(days=day)}"
        path = folder / f"part-{part:05d}.{spec.extension}"
        self.sink.submit(spec.file_format, table, path)
        self.rows[table_name] += table.num_rows
        self.files[table_name] += 1

    def write_day(self, day: int, regular: dict[str, Batch], deferred: list[Deferred]) -> None:
        for item in deferred:
            if item.batch.num_rows:
                self.pending[item.target_day].append(item)
        due = self.pending.pop(day, [])
        for name in TABLES:
            part = 0
            batch = regular.get(name)
            if batch is not None and batch.num_rows:
                self._write(name, day, part, batch.table)
                part += 1
            for item in due:
                if item.batch.name == name:
                    part = max(part, 1)
                    self._write(name, day, part, item.batch.table)
                    self.log.add(name, item.kind, item.batch.num_rows)
                    part += 1

    def finish(self) -> None:
        """Wait for queued files; rows due after the last simulated day never landed: count them."""
        self.sink.close()
        for items in self.pending.values():
            for item in items:
                self.log.add(item.batch.name, f"{item.kind}_not_landed", item.batch.num_rows)
        self.pending.clear()

    def abort(self) -> None:
        self.sink.abort()


class OracleWriter:
    """Ground truth the pipeline never reads: demand lambda and fraud truth per payment.

    With a regime change, also `regime.json` (what changed, from when) and, for the fraud pattern,
    `regime_payments.parquet` (its payments by campaign name).
    """

    def __init__(self, root: Path, regime: dict[str, object] | None = None):
        self.root = root
        self.demand = pq.ParquetWriter(root / "demand.parquet", ORACLE_DEMAND_SCHEMA, compression="zstd")
        self.payments = pq.ParquetWriter(
            root / "payments.parquet", ORACLE_PAYMENTS_SCHEMA, compression="zstd"
        )
        self.n_payments = 0
        self.n_authorized = 0
        self.n_authorized_fraud = 0
        self.regime = regime
        self.regime_payments: pq.ParquetWriter | None = None
        self.regime_counts = {"payments": 0, "authorized": 0, "authorized_fraud": 0}
        if regime is not None and FRAUD_PATTERN in regime:
            self.regime_payments = pq.ParquetWriter(
                root / "regime_payments.parquet", ORACLE_REGIME_PAYMENTS_SCHEMA, compression="zstd"
            )

    def write_demand(self, day: date, store_ids: list[str], product_ids: pa.Array, lam: np.ndarray) -> None:
        n_s, n_p = lam.shape
        table = pa.table(
            {
                "date": pa.array([day] * (n_s * n_p), type=pa.date32()),
                "store_id": pa.array(store_ids, type=pa.string()).take(
                    pa.array(np.repeat(np.arange(n_s), n_p))
                ),
                "product_id": product_ids.take(pa.array(np.tile(np.arange(n_p), n_s))),
                "expected_units": pa.array(lam.ravel(), type=pa.float64()),
            },
            schema=ORACLE_DEMAND_SCHEMA,
        )
        self.demand.write_table(table)

    def write_payments(
        self,
        payment_ids: pa.Array,
        paid_utc: np.ndarray,
        p: np.ndarray,
        is_fraud: np.ndarray,
        declined: np.ndarray,
    ) -> None:
        if paid_utc.size == 0:
            return
        table = pa.table(
            {
                "payment_id": payment_ids,
                "paid_at": pa.array(paid_utc.astype(np.int64) * 1000, type=pa.timestamp("ms", tz="UTC")),
                "fraud_probability": pa.array(p, type=pa.float64()),
                "is_fraud": pa.array(is_fraud, type=pa.bool_()),
            },
            schema=ORACLE_PAYMENTS_SCHEMA,
        )
        self.payments.write_table(table)
        self.n_payments += int(paid_utc.size)
        self.n_authorized += int((~declined).sum())
        self.n_authorized_fraud += int((is_fraud & ~declined).sum())

    def write_regime_payments(
        self,
        payment_ids: pa.Array,
        paid_utc: np.ndarray,
        campaign: str,
        is_fraud: np.ndarray,
        declined: np.ndarray,
    ) -> None:
        if self.regime_payments is None or paid_utc.size == 0:
            return
        table = pa.table(
            {
                "payment_id": payment_ids,
                "paid_at": pa.array(paid_utc.astype(np.int64) * 1000, type=pa.timestamp("ms", tz="UTC")),
                "campaign": pa.array([campaign] * paid_utc.size, type=pa.string()),
                "is_fraud": pa.array(is_fraud, type=pa.bool_()),
                "is_declined": pa.array(declined, type=pa.bool_()),
            },
            schema=ORACLE_REGIME_PAYMENTS_SCHEMA,
        )
        self.regime_payments.write_table(table)
        self.regime_counts["payments"] += int(paid_utc.size)
        self.regime_counts["authorized"] += int((~declined).sum())
        self.regime_counts["authorized_fraud"] += int((is_fraud & ~declined).sum())

    def close(self, log: DefectLog) -> None:
        self.demand.close()
        self.payments.close()
        log.write(self.root / "defects.json")
        if self.regime is None:
            return
        regime = dict(self.regime)
        if self.regime_payments is not None:
            self.regime_payments.close()
            regime[FRAUD_PATTERN] = {**regime[FRAUD_PATTERN], **self.regime_counts}
        text = json.dumps(regime, indent=2, sort_keys=True) + "\n"
        (self.root / "regime.json").write_text(text, encoding="utf-8")
