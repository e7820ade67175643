"""Files replaced whole: written under a hidden name beside the target and renamed over it, so a
reader (another process, or this one after a crash) sees the old file or the new one, never half
of either. The staging file is removed if the write fails."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def staging_path(path: Path) -> Path:
    """Where `path` is written before it is renamed into place: `.<name>.tmp` beside it."""
    return path.with_name(f".{path.name}.tmp")


@contextmanager
def replaced(path: Path) -> Iterator[Path]:
    """Yields the staging path to write; when the block ends without an error, renames it over
    `path`. On an error the staging file is removed and `path` is untouched."""
    staging = staging_path(path)
    try:
        yield staging
        os.replace(staging, path)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    with replaced(path) as staging:
        staging.write_text(text)


def write_bytes(path: Path, data: bytes) -> None:
    with replaced(path) as staging:
        staging.write_bytes(data)
