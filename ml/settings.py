"""Paths the ML layer reads from the environment (inside functions, never at import time)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def warehouse_path() -> Path:
    """The DuckDB file dbt builds (WAREHOUSE_DB; default data/warehouse.duckdb at the repo root)."""
    return Path(os.environ.get("WAREHOUSE_DB", REPO_ROOT / "data" / "warehouse.duckdb"))


def models_dir() -> Path:
    """Where model artifacts live (MODELS_DIR; default data/models at the repo root)."""
    return Path(os.environ.get("MODELS_DIR", REPO_ROOT / "data" / "models"))


def specs_dir() -> Path:
    """Where the model specs live (MODEL_SPECS_DIR; default ml/models in the package)."""
    return Path(os.environ.get("MODEL_SPECS_DIR", Path(__file__).parent / "models"))
