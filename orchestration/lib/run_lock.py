"""One pipeline run at a time per warehouse, whoever starts it.

Dagster's run queue (orchestration/dagster.yaml: one run at a time) serializes the runs it launches,
but `dagster job execute` from a terminal does not go through the queue. Every run therefore takes
an exclusive lock beside the build file for its whole duration; a second run is refused at once
with a message naming the holder, before it writes anything. The lock is an OS file lock (flock):
the kernel releases it when the holder exits, even on SIGKILL, so a crashed run never leaves a
stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path


class PipelineBusyError(RuntimeError):
    """Another pipeline run holds the warehouse."""


def lock_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".pipeline.lock")


@contextmanager
def exclusive_run(warehouse: Path, holder: str) -> Iterator[None]:
    path = lock_path(warehouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            current = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "unknown"
            raise PipelineBusyError(
                f"another pipeline run is writing {warehouse} ({current}); this run is refused and "
                "wrote nothing. Wait for it to finish (or queue runs through `make dev`)."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(
            fd, f"{holder}, pid {os.getpid()}, since {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC".encode(), 0
        )
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
