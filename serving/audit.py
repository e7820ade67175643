"""The audit log: every scoring request, and every payment it scored, as Parquet files.

    <log_dir>/requests/logged_on=YYYY-MM-DD/part-<first row's time>-<pid>-<seq>.parquet
    <log_dir>/scores/logged_on=YYYY-MM-DD/part-...parquet

`requests` has one row per request to /v1/ (status, latency, error body), `scores` one row per
scored payment (the request's fields with customer, card and device hashed, see serving/pii.py;
the score, the decision, the model version, the reason codes), joined on request_id. Rows are
buffered in memory and written every `flush_rows` rows or `flush_seconds` seconds, off the event
loop, and at shutdown; each file is written under a hidden name and renamed, so a reader
(`read_parquet('<log_dir>/scores/**/*.parquet', hive_partitioning = true)`) never sees half a file.
A crash loses at most the rows of the last interval."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

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


class ParquetSink:
    """Rows buffered in memory; `write` turns a batch of them into one file per day."""

    _sequence = itertools.count()  # file names unique within the process, in write order

    def __init__(self, directory: Path, schema: pa.Schema) -> None:
        self.directory, self.schema = directory, schema
        self.rows: list[dict[str, Any]] = []

    def take(self) -> list[dict[str, Any]]:
        rows, self.rows = self.rows, []
        return rows

    def write(self, rows: Sequence[dict[str, Any]]) -> list[Path]:
        """One file per day, each written under a hidden name and renamed. When a day's file fails,
        PartialWriteError carries the rows of that day and the days after it: the days already
        renamed are durable and must not be written again (a retry would duplicate them)."""
        by_day: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            by_day[row["logged_at"].date().isoformat()].append(row)
        days = sorted(by_day.items())
        written = []
        for number, (day, day_rows) in enumerate(days):
            folder = self.directory / f"logged_on={day}"
            name = f"part-{day_rows[0]['logged_at']:%Y%m%dT%H%M%S%f}-{os.getpid()}-{next(self._sequence):06d}"
            staging, final = folder / f".{name}.tmp", folder / f"{name}.parquet"
            try:
                folder.mkdir(parents=True, exist_ok=True)
                pq.write_table(pa.Table.from_pylist(day_rows, schema=self.schema), staging)
                os.replace(staging, final)
            except Exception as exc:
                staging.unlink(missing_ok=True)
                unwritten = [row for _, later in days[number:] for row in later]
                raise PartialWriteError(f"{final}: {exc}", unwritten) from exc
            written.append(final)
        return written


class PartialWriteError(OSError):
    """A day's file could not be written; `unwritten` are the rows still to write."""

    def __init__(self, message: str, unwritten: list[dict[str, Any]]) -> None:
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
        self.requests.rows.append(
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
        )
        self._flush_if_full()

    def log_scores(
        self, request_id: str, payments: Sequence[Payment], results: Sequence[PaymentScore]
    ) -> None:
        logged_at = utc_now()
        for payment, result in zip(payments, results, strict=True):
            self.scores.rows.append(
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
            )
        self._flush_if_full()

    @property
    def pending(self) -> int:
        return len(self.requests.rows) + len(self.scores.rows)

    def _flush_if_full(self) -> None:
        if self.pending >= self.flush_rows and (self._flush_task is None or self._flush_task.done()):
            self._flush_task = asyncio.get_running_loop().create_task(self.flush())

    async def flush(self) -> bool:
        """Write what is buffered, in a worker thread (the event loop keeps serving). Rows that could
        not be written go back to the buffer for the next flush; returns whether all were written."""
        async with self._writing:
            ok = True
            for sink in (self.requests, self.scores):
                rows = sink.take()
                if not rows:
                    continue
                try:
                    await asyncio.to_thread(sink.write, rows)
                except PartialWriteError as exc:
                    log.exception(
                        "audit log: could not write %d rows to %s", len(exc.unwritten), sink.directory
                    )
                    sink.rows[:0] = exc.unwritten  # the days already written stay written, once
                    ok = False
                except Exception:
                    log.exception("audit log: could not write %d rows to %s", len(rows), sink.directory)
                    sink.rows[:0] = rows
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
