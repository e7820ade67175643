"""Stream messages into the landing zone as micro-batch files, each message once.

A micro-batch is the landing rows of some messages, one Parquet file per landing day, beside the
daily exports, so the daily (or hourly) run reads them through the same source glob:

    <landing>/payments/payments/date=YYYY-MM-DD/part-stream-<first message id, zero-padded>-<consumer>.parquet

The day is the one the message says it was published on (a replay of a past day keeps that day).
Each file is written under a hidden name and renamed into place: the rename is the commit. Its
Parquet footer lists the ids of the messages it holds (`stream_message_ids`), so a consumer that
restarts, or reclaims messages another consumer left unacknowledged, asks `landed_ids` which of
them already landed and writes the others only: a message lands once even when it is delivered
twice (the broker's delivery is at least once).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ml import atomic_files
from ml.write_points import reached
from simulator.schema import TABLES

PAYMENTS = TABLES["payments"]
IDS_KEY = b"stream_message_ids"
PREFIX = "part-stream-"


@dataclass(frozen=True)
class LandingMessage:
    message_id: str
    published_on: date
    row: dict[str, Any]  # the landing row: PAYMENTS' columns


def folder(landing_dir: Path) -> Path:
    return landing_dir / PAYMENTS.system / PAYMENTS.name


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)


def _sortable(message_id: str) -> str:
    """The id with its numbers zero-padded, so that file names sort as the ids do ("…-50" before
    "…-100"): where the warehouse keeps one of two copies of a payment, it falls back on file order."""
    return re.sub(r"[0-9]+", lambda number: number.group().zfill(20), _safe(message_id))


def write_micro_batch(landing_dir: Path, consumer: str, messages: Sequence[LandingMessage]) -> list[Path]:
    """One file per landing day for `messages` (in their order), each committed by its rename."""
    by_day: dict[date, list[LandingMessage]] = defaultdict(list)
    for message in messages:
        by_day[message.published_on].append(message)
    written = []
    for day, day_messages in sorted(by_day.items()):
        ids = [message.message_id for message in day_messages]
        schema = PAYMENTS.schema.with_metadata({IDS_KEY: json.dumps(ids).encode()})
        table = pa.Table.from_pylist([message.row for message in day_messages], schema=schema)
        day_folder = folder(landing_dir) / f"date={day.isoformat()}"
        day_folder.mkdir(parents=True, exist_ok=True)
        path = day_folder / f"{PREFIX}{_sortable(ids[0])}-{_safe(consumer)}.parquet"
        with atomic_files.replaced(path) as staging:
            pq.write_table(table, staging)
            reached("landing:staged")
        written.append(path)
    return written


def remove_staged(landing_dir: Path, consumer: str) -> list[Path]:
    """Remove the hidden staging files `consumer` left when it died mid-write (they hold nothing that
    counts: the rename is the commit). Only when `consumer` is not running: it is starting."""
    # the id is "<n>-<n>" (Redis' "<ms>-<seq>", Kafka's "<partition>-<offset>"): the rest is the consumer
    own = re.compile(rf"\.{PREFIX}[0-9]+-[0-9]+-{re.escape(_safe(consumer))}\.parquet\.tmp")
    left = [
        path
        for path in sorted(folder(landing_dir).glob(f"date=*/.{PREFIX}*.parquet.tmp"))
        if own.fullmatch(path.name)
    ]
    for path in left:
        path.unlink()
    return left


def stream_files(landing_dir: Path, modified_since: float = 0.0) -> list[Path]:
    """The micro-batch files, those modified at or after `modified_since` (a POSIX time) only."""
    return [
        path
        for path in sorted(folder(landing_dir).glob(f"date=*/{PREFIX}*.parquet"))
        if path.stat().st_mtime >= modified_since
    ]


def landed_ids(files: Iterable[Path], wanted: set[str]) -> set[str]:
    """Which of `wanted` the files hold (read from their footers, not their rows)."""
    found: set[str] = set()
    for path in files:
        metadata = pq.read_schema(path).metadata or {}
        found.update(wanted.intersection(json.loads(metadata.get(IDS_KEY, b"[]"))))
    return found
