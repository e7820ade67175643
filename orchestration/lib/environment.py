"""Paths the orchestration reads, absolute (their defaults: ml/settings.py), and `environ_set`."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from ml.settings import REPO_ROOT, settings

WAREHOUSE_DIR = REPO_ROOT / "warehouse"


def warehouse_db() -> Path:
    """The build file dbt and the ML assets write (WAREHOUSE_DB), absolute."""
    return settings().warehouse_db.resolve()


def analytics_db() -> Path:
    """The published read-only copy analysts open (ANALYTICS_DB), absolute."""
    return settings().analytics_db.resolve()


def landing_dir() -> Path:
    """The landing zone (LANDING_DIR), absolute."""
    return settings().landing_dir.resolve()


@contextmanager
def environ_set(values: Mapping[str, str | None]) -> Iterator[None]:
    """`values` in os.environ for the block (None unsets a variable), then each as it was. Only
    the named variables change, one at a time, so a reader on another thread never sees a
    half-built environment."""
    before = {name: os.environ.get(name) for name in values}
    _apply(values)
    try:
        yield
    finally:
        _apply(before)


def _apply(values: Mapping[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
