"""Shared test fixtures: paths, and running dbt against a throw-away warehouse."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
WAREHOUSE_DIR = REPO_ROOT / "warehouse"
DBT = Path(sys.executable).with_name("dbt")


@dataclass(frozen=True)
class DbtEnv:
    """A private warehouse: its own landing zone, DuckDB file and dbt target/log paths."""

    landing_dir: Path
    database: Path
    work_dir: Path

    def environ(self) -> dict[str, str]:
        return {
            **os.environ,
            "LANDING_DIR": str(self.landing_dir),
            "WAREHOUSE_DB": str(self.database),
            "DBT_PROFILES_DIR": str(WAREHOUSE_DIR),
            "DBT_TARGET_PATH": str(self.work_dir / "target"),
            "DBT_LOG_PATH": str(self.work_dir / "logs"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }

    def dbt(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the dbt CLI from the project directory, as a user would in a terminal."""
        result = subprocess.run(
            [str(DBT), *args],
            cwd=WAREHOUSE_DIR,
            env=self.environ(),
            capture_output=True,
            text=True,
            timeout=900,
        )
        if check and result.returncode != 0:
            pytest.fail(f"dbt {' '.join(args)} failed ({result.returncode}):\n{result.stdout[-6000:]}")
        return result


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT
