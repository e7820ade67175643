"""Serving one model at a time and replacing it without dropping a request.

`ModelHolder.current` is the one reference every scoring call reads. A call (the payments of one or
more concurrent requests, serving/batching.py) takes it once and scores on that object from
start to finish (synchronously on the event loop: nothing can swap the reference in the middle of
it), so in-flight requests finish on the model they started with.

`SnapshotWatcher` polls the published snapshot's identity (device, inode, mtime, size: the publisher
replaces the file with os.replace, a new inode) every few seconds. On a change it loads the new
model and feature store in a worker thread while the event loop keeps serving the old one, replays
into the new store the payments scored online that the new snapshot does not hold yet, then swaps
the reference. Payments scored during the load are recorded on the event loop just before the swap,
without asking the snapshot (the feature store ignores a payment_id it already holds); they are
checked against the next snapshot. If the load fails, the old model keeps serving and the next
poll tries again.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from serving.schemas import Payment, PaymentScore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelInfo:
    name: str
    version: int
    threshold: float
    engine: str  # what computes the trees: "lleaves" (compiled) or "lightgbm"


class ServingModel(Protocol):
    """A champion with the online feature state of one snapshot."""

    info: ModelInfo

    @property
    def complete_from(self) -> datetime | None:
        """Payments at or after this time get complete features; earlier ones are refused."""

    def score(self, payments: Sequence[Payment]) -> list[PaymentScore]: ...

    def record(self, payments: Sequence[Payment]) -> None:
        """Add scored payments to the feature state (later payments' velocity counts them)."""

    def not_in_snapshot(self, payments: Sequence[Payment]) -> list[Payment]:
        """The payments the snapshot this model was loaded from does not hold."""


Loader = Callable[[], ServingModel]


class NotReadyError(RuntimeError):
    """No model is loaded yet."""


class ModelHolder:
    """The model in service, and the journal: the payments scored online that the current snapshot
    does not hold, replayed into the next one so its feature state counts them.

    The journal is bounded, because payments that never reach the warehouse would stay in it
    forever: by count (`max_journal`, the oldest dropped first, as they are scored) and by age (at
    each swap, payments more than `max_journal_age` older than the newest journaled one are dropped:
    past the longest feature window they count in no velocity feature any more).
    `on_dropped(reason, payments)` counts what was dropped ("count" or "age"). A dropped payment's
    only lasting trace is the first-use flags (is_new_card, is_new_device): a later payment of its
    card or device reads as new until the warehouse holds it."""

    def __init__(
        self,
        max_journal: int = 200_000,
        max_journal_age: timedelta = timedelta(days=31),
        on_dropped: Callable[[str, int], None] = lambda reason, payments: None,
    ) -> None:
        self.current: ServingModel | None = None
        self.max_journal_age, self.on_dropped = max_journal_age, on_dropped
        self.journal: deque[Payment] = deque(maxlen=max_journal)
        self._journaled = 0  # payments ever appended: which ones came during a load

    def score(self, payments: Sequence[Payment]) -> tuple[ServingModel, list[PaymentScore]]:
        model = self.current
        if model is None:
            raise NotReadyError("the model and its features are still loading; retry shortly")
        results = model.score(payments)
        model.record(payments)
        self._journal(payments)
        return model, results

    def _journal(self, payments: Sequence[Payment]) -> None:
        overflow = len(self.journal) + len(payments) - (self.journal.maxlen or 0)
        self.journal.extend(payments)
        self._journaled += len(payments)
        if overflow > 0:
            self.on_dropped("count", overflow)

    async def swap_in(self, load: Loader) -> ServingModel:
        started = self._journaled
        model, kept = await asyncio.to_thread(load_and_replay, load, tuple(self.journal))
        # scored on the old model while the new one loaded (at most what the journal still holds)
        arrived = min(self._journaled - started, len(self.journal))
        late = list(itertools.islice(self.journal, len(self.journal) - arrived, None))
        if late:
            model.record(late)
        kept_recent = self._recent(kept + late)
        overflow = len(kept_recent) - (self.journal.maxlen or 0)
        if overflow > 0:
            self.on_dropped("count", overflow)
        self.journal.clear()
        self.journal.extend(kept_recent)
        self.current = model
        return model

    def _recent(self, payments: list[Payment]) -> list[Payment]:
        if not payments:
            return payments
        oldest = max(payment.paid_at_utc for payment in payments) - self.max_journal_age
        recent = [payment for payment in payments if payment.paid_at_utc >= oldest]
        if len(recent) < len(payments):
            self.on_dropped("age", len(payments) - len(recent))
        return recent


def load_and_replay(load: Loader, journal: Sequence[Payment]) -> tuple[ServingModel, list[Payment]]:
    model = load()
    missing = model.not_in_snapshot(journal) if journal else []
    if missing:
        model.record(missing)
    return model, missing


FileIdentity = tuple[int, int, int, int]


def file_identity(path: Path) -> FileIdentity | None:
    """What changes when the publisher replaces the file; None while there is no file."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return (stat.st_dev, stat.st_ino, stat.st_mtime_ns, stat.st_size)


class SnapshotWatcher:
    def __init__(
        self,
        snapshot: Path,
        holder: ModelHolder,
        load: Loader,
        poll_seconds: float,
        on_loaded: Callable[[ServingModel], None],
        on_failed: Callable[[Exception], None],
    ) -> None:
        self.snapshot, self.holder, self.load, self.poll_seconds = snapshot, holder, load, poll_seconds
        self.on_loaded, self.on_failed = on_loaded, on_failed
        self.loaded: FileIdentity | None = None  # the identity of the file the current model came from

    async def check(self) -> bool:
        """Load and swap in the snapshot if it changed since the last load; whether it did."""
        # read before loading: if the file is replaced during the load, the next check loads again
        identity = file_identity(self.snapshot)
        if identity is None or identity == self.loaded:
            return False
        try:
            model = await self.holder.swap_in(self.load)
        except Exception as exc:
            log.exception("could not load %s; still serving the previous model", self.snapshot)
            self.on_failed(exc)
            return False
        self.loaded = identity
        info = model.info
        log.info("serving %s version %s (%s) from %s", info.name, info.version, info.engine, self.snapshot)
        self.on_loaded(model)
        return True

    async def run(self) -> None:
        """Check now, then every `poll_seconds`, until cancelled."""
        while True:
            await self.check()
            await asyncio.sleep(self.poll_seconds)
