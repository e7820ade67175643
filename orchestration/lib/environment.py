"""Paths the orchestration reads from the environment: inside functions, never at import time."""

from __future__ import annotations

import os
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
