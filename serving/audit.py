"""The audit log: every scoring request, and every payment it scored, as Parquet files.

    <log_dir>/requests/logged_on=YYYY-MM-DD/part-<first row's time>-<pid>-<seq>.parquet
    <log_dir>/scores/logged_on=YYYY-MM-DD/part-...parquet

`requests` has one row per request to /v1/ (status, latency, error body), `scores` one row per
scored payment (the request's fields with customer, card and device hashed, see serving/pii.py;
the score, the decision, the model version, the reason codes), joined on request_id. Rows are
buffered in memory as Arrow batches (converted a few at a time as they are logged) and written
every `flush_rows` rows or `flush_seconds` seconds, in a worker thread, and at shutdown; each file is
written under a hidden name and renamed, so a reader
(`read_parquet('<log_dir>/scores/**/*.parquet', hive_partitioning = true)`) never sees half a file.
A crash loses at most the rows of the last interval."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ml import atomic_files
from serving.pii import PiiHasher
from serving.schemas import Payment, PaymentScore

log = logging.getLogger(__name__)

REQUEST_SCHEMA = pa.schema(
    [
        ("request_id", pa.string()),
        ("logged_at", pa.timestamp("us")),  # naive UTC, like every timestamp in the warehouse
        ("method", pa.string()),
        ("path", pa.string()),
        ("status", pa.int16()),
        ("latency_ms", pa.float64()),
        ("payments", pa.int32()),  # null when the body was refused
        ("model_version", pa.int32()),
        ("error", pa.string()),  # the JSON error body of a 4xx/5xx: field paths and reasons, no values
        ("token_id", pa.string()),  # the caller's token, by its hashed id (serving/auth.py); null: none
    ]
)
SCORE_SCHEMA = pa.schema(
    [
        ("request_id", pa.string()),
        ("logged_at", pa.timestamp("us")),
        ("payment_id", pa.string()),
        ("paid_at", pa.timestamp("us")),
        ("customer_id_hash", pa.string()),
        ("card_fingerprint_hash", pa.string()),
        ("device_id_hash", pa.string()),
        ("amount_usd", pa.float64()),
        ("channel", pa.string()),
        ("merchant_category_code", pa.string()),
        ("ip_country", pa.string()),  # a country is not an identifier: kept for drift monitoring
        ("is_authorized", pa.bool_()),
        ("model_name", pa.string()),
        ("model_version", pa.int32()),
        ("score", pa.float64()),
        ("is_flagged", pa.bool_()),
        ("operating_threshold", pa.float64()),
        ("reason_codes", pa.list_(pa.string())),
    ]
)


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# Rows become Arrow record batches this many at a time, on the event loop, as they are logged:
# converting a whole flush's rows at once (5,000 of them, ~11 ms) holds the GIL throughout, in C++,
# and every request in flight waited for it (it was the load test's p99). A batch of this size
# costs ~0.2 ms; the flush's thread then only writes, and Parquet writing releases the GIL.
BATCH_ROWS = 128

Batches = dict[str, list[pa.RecordBatch]]  # day (YYYY-MM-DD) -> its rows, in logging order


class ParquetSink:
    """Rows buffered in memory as Arrow batches, by the day they were logged; `write` turns a
    `take`n buffer into one file per day."""

    _sequence = itertools.count()  # file names unique within the process, in write order

    def __init__(self, directory: Path, schema: pa.Schema, batch_rows: int = BATCH_ROWS) -> None:
        self.directory, self.schema, self.batch_rows = directory, schema, batch_rows
        self._batches: Batches = {}
        self._rows: dict[str, list[dict[str, Any]]] = {}  # not yet converted
        self.pending = 0

    def append(self, rows: Sequence[dict[str, Any]]) -> None:
        """Buffer rows (each with its `logged_at`); full batches are converted at once."""
        for row in rows:
            day = row["logged_at"].date().isoformat()
            waiting = self._rows.setdefault(day, [])
            waiting.append(row)
            if len(waiting) >= self.batch_rows:
                self._convert(day)
        self.pending += len(rows)

    def _convert(self, day: str) -> None:
        rows = self._rows.pop(day)
        batch = pa.RecordBatch.from_pylist(rows, schema=self.schema)
        self._batches.setdefault(day, []).append(batch)

    def take(self) -> Batches:
        """Everything buffered, by day, leaving the buffer empty."""
        for day in list(self._rows):
            self._convert(day)
        batches, self._batches, self.pending = self._batches, {}, 0
        return batches

    def put_back(self, batches: Batches) -> None:
        """Batches that could not be written, ahead of what was buffered since."""
        for day, day_batches in batches.items():
            self._batches[day] = day_batches + self._batches.get(day, [])
            self.pending += rows({day: day_batches})

    def write(self, batches: Batches) -> list[Path]:
        """One file per day, each written under a hidden name and renamed. When a day's file fails,
        PartialWriteError carries the batches of that day and the days after it: the days already
        renamed are durable and must not be written again (a retry would duplicate them)."""
        days = sorted(batches.items())
        written = []
        for number, (day, day_batches) in enumerate(days):
            folder = self.directory / f"logged_on={day}"
            first_logged = day_batches[0]["logged_at"][0].as_py()
            name = f"part-{first_logged:%Y%m%dT%H%M%S%f}-{os.getpid()}-{next(self._sequence):06d}"
            final = folder / f"{name}.parquet"
            try:
                folder.mkdir(parents=True, exist_ok=True)
                with atomic_files.replaced(final) as staging:
                    pq.write_table(pa.Table.from_batches(day_batches, schema=self.schema), staging)
            except Exception as exc:
                raise PartialWriteError(f"{final}: {exc}", dict(days[number:])) from exc
            written.append(final)
        return written


def rows(batches: Batches) -> int:
    return sum(batch.num_rows for day_batches in batches.values() for batch in day_batches)


class PartialWriteError(OSError):
    """A day's file could not be written; `unwritten` are the batches still to write."""

    def __init__(self, message: str, unwritten: Batches) -> None:
        super().__init__(message)
        self.unwritten = unwritten


class AuditLog:
    def __init__(self, directory: Path, salt: str, flush_rows: int, flush_seconds: float) -> None:
        self.requests = ParquetSink(directory / "requests", REQUEST_SCHEMA)
        self.scores = ParquetSink(directory / "scores", SCORE_SCHEMA)
        self.hash = PiiHasher(salt)
        self.flush_rows, self.flush_seconds = flush_rows, flush_seconds
        self._writing = asyncio.Lock()  # one flush at a time, so files are written in row order
        self._flush_task: asyncio.Task[None] | None = None

    def log_request(
        self,
        request_id: str,
        method: str,
        path: str,
        status: int,
        latency_ms: float,
        payments: int | None,
        model_version: int | None,
        error: str | None,
        token_id: str | None = None,
    ) -> None:
        self.requests.append(
            [
                {
                    "request_id": request_id,
                    "logged_at": utc_now(),
                    "method": method,
                    "path": path,
                    "status": status,
                    "latency_ms": latency_ms,
                    "payments": payments,
                    "model_version": model_version,
                    "error": error,
                    "token_id": token_id,
                }
            ]
        )
        self._flush_if_full()

    def log_scores(
        self, request_id: str, payments: Sequence[Payment], results: Sequence[PaymentScore]
    ) -> None:
        logged_at = utc_now()
        self.scores.append(
            [
                {
                    "request_id": request_id,
                    "logged_at": logged_at,
                    "payment_id": payment.payment_id,
                    "paid_at": payment.paid_at_utc,
                    "customer_id_hash": self.hash(payment.customer_id),
                    "card_fingerprint_hash": self.hash(payment.card_fingerprint),
                    "device_id_hash": self.hash(payment.device_id),
                    "amount_usd": payment.amount_usd,
                    "channel": payment.channel,
                    "merchant_category_code": payment.merchant_category_code,
                    "ip_country": payment.ip_country,
                    "is_authorized": payment.is_authorized,
                    "model_name": result.model_name,
                    "model_version": result.model_version,
                    "score": result.score,
                    "is_flagged": result.is_flagged,
                    "operating_threshold": result.operating_threshold,
                    "reason_codes": result.reason_codes,
                }
                for payment, result in zip(payments, results, strict=True)
            ]
        )
        self._flush_if_full()

    @property
    def pending(self) -> int:
        return self.requests.pending + self.scores.pending

    def _flush_if_full(self) -> None:
        if self.pending >= self.flush_rows and (self._flush_task is None or self._flush_task.done()):
            self._flush_task = asyncio.get_running_loop().create_task(self.flush())

    async def flush(self) -> bool:
        """Write what is buffered, in a worker thread (the event loop keeps serving). Rows that could
        not be written go back to the buffer for the next flush; returns whether all were written."""
        async with self._writing:
            ok = True
            for sink in (self.requests, self.scores):
                batches = sink.take()
                if not batches:
                    continue
                try:
                    await asyncio.to_thread(sink.write, batches)
                except PartialWriteError as exc:
                    log.exception(
                        "audit log: could not write %d rows to %s", rows(exc.unwritten), sink.directory
                    )
                    sink.put_back(exc.unwritten)  # the days already written stay written, once
                    ok = False
                except Exception:
                    log.exception("audit log: could not write %d rows to %s", rows(batches), sink.directory)
                    sink.put_back(batches)
                    ok = False
            return ok

    async def run(self) -> None:
        """Flush every `flush_seconds` until cancelled."""
        while True:
            await asyncio.sleep(self.flush_seconds)
            await self.flush()

    async def close(self) -> bool:
        """At shutdown: wait for a flush under way, then write the rest."""
        if self._flush_task is not None:
            await asyncio.gather(self._flush_task, return_exceptions=True)
        return await self.flush()
