"""Has anything a run reads changed since the last successful run? One digest says.

A run's outputs follow from its inputs: the landing files, the project's code, SQL, seeds and model
specs, and the settings that change results. The digest covers each landing file by path, size and
modification time (reading 425 days of files to hash them would cost what the run costs), every
project file by content, and those settings by value (the salt only inside the digest). `make run`
compares it with the digest recorded on the last successful run of the same job and, when they are
equal and that run's published file is still in place, runs nothing (orchestration/run.py).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from stat import S_ISREG

from ml.settings import DOMAINS_VARIABLE, ENGINE_VARIABLE, PATH_VARIABLES
from orchestration.lib.environment import REPO_ROOT, analytics_db, landing_dir

# The project files a run executes or reads: code, SQL, seeds, specs, locked dependencies.
PROJECT_FILES = (
    "ml/**/*.py",
    "ml/models/*.yml",
    "orchestration/**/*.py",
    "orchestration/dagster.yaml",
    "warehouse/**/*.sql",
    "warehouse/**/*.yml",
    "warehouse/plugins/*.py",
    "seeds/*.csv",
    "requirements.lock",
)
# Settings that change what a run writes (paths, the PII salt, the scoring engine, the domains,
# the warehouse engine and where Spark keeps its tables).
SETTINGS = (
    *PATH_VARIABLES,
    "WAREHOUSE_PII_SALT",
    "ML_COMPILED_SCORING",
    "ML_COMPILE_MIN_ROWS",
    DOMAINS_VARIABLE,
    ENGINE_VARIABLE,
    "SPARK_WAREHOUSE_DIR",
)
SKIPPED_FOLDERS = {"target", "logs", "__pycache__"}


def _project_files() -> list[Path]:
    files = {
        path
        for pattern in PROJECT_FILES
        for path in REPO_ROOT.glob(pattern)
        if path.is_file() and not SKIPPED_FOLDERS & set(path.relative_to(REPO_ROOT).parts)
    }
    return sorted(files)


def landing_listing() -> dict[str, tuple[int, int]]:
    """Every landing file: relative path -> (size, modification time in ns)."""
    landing = landing_dir()
    listing = {}
    for path in landing.rglob("*"):
        stat = path.stat()
        if S_ISREG(stat.st_mode):
            listing[str(path.relative_to(landing))] = (stat.st_size, stat.st_mtime_ns)
    return listing


def project_digest() -> str:
    """The project files by content and the settings by value."""
    digest = hashlib.sha256()
    for path in _project_files():
        digest.update(f"P {path.relative_to(REPO_ROOT)} ".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    for name in SETTINGS:
        digest.update(f"S {name}={os.environ.get(name, '')}\n".encode())
    return digest.hexdigest()


def inputs_digest(listing: dict[str, tuple[int, int]], project: str) -> str:
    """The landing files as listed, and the project as `project_digest` found it."""
    digest = hashlib.sha256(project.encode())
    for name, (size, mtime) in sorted(listing.items()):
        digest.update(f"L {name} {size} {mtime}\n".encode())
    return digest.hexdigest()


def digest_after_run(before: dict[str, tuple[int, int]], project: str) -> str:
    """The digest to record for a run that started with `before` and `project`: the landing zone
    as the run left it when the run only removed files (the inventory moves unreadable ones out),
    else as it started (a file that arrived meanwhile was not read by the run, so the next run must
    see it as new). The project as it was when the run started, whatever was edited meanwhile."""
    after = landing_listing()
    removed_only = all(before.get(name) == stat for name, stat in after.items())
    return inputs_digest(after if removed_only else before, project)


def published_stamp() -> str:
    """The published file as a run left it (size and modification time); empty when it is gone."""
    path = analytics_db()
    if not path.is_file():
        return ""
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"
