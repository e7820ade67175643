"""Paths the orchestration reads from the environment: inside functions, never at import time."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
WAREHOUSE_DIR = REPO_ROOT / "warehouse"


def warehouse_db() -> Path:
    """The build file dbt and the ML assets write (WAREHOUSE_DB)."""
    return Path(os.environ.get("WAREHOUSE_DB", REPO_ROOT / "data" / "warehouse.duckdb")).resolve()


def analytics_db() -> Path:
    """The published read-only copy analysts open (ANALYTICS_DB)."""
    return Path(os.environ.get("ANALYTICS_DB", REPO_ROOT / "data" / "analytics.duckdb")).resolve()


def landing_dir() -> Path:
    return Path(os.environ.get("LANDING_DIR", REPO_ROOT / "data" / "landing")).resolve()


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
