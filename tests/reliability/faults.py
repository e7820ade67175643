"""The environment that makes a process launched by a test fail at a named write point: killed,
out of disk space, or with its writes failing with EIO (fault_hook/sitecustomize.py)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

FAULT_HOOK = Path(__file__).with_name("fault_hook")
# libfiu's `fiu-run -x` preloads wrappers of the POSIX calls into the process it starts. pyarrow's
# bundled jemalloc starts a background thread whose first allocation, through the wrapped malloc,
# deadlocks with a dlopen in progress (seen with gdb): that thread is turned off under fiu-run.
FIU_ENVIRON = {"JE_ARROW_MALLOC_CONF": "background_thread:false"}


def _with_hook(environ: Mapping[str, str] | None, **settings: str) -> dict[str, str]:
    base = dict(os.environ if environ is None else environ)
    path = os.pathsep.join(filter(None, [str(FAULT_HOOK), base.get("PYTHONPATH", "")]))
    return {**base, "PYTHONPATH": path, **settings}


def crash_at(point: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """`environ` (default: this process's) for a child that is killed with SIGKILL at `point`."""
    return _with_hook(environ, CRASH_AT=point)


def fill_disk_at(point: str, filler: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """For a child that fills the file system holding `filler` (with that file) at `point`."""
    return _with_hook(environ, FILL_DISK_AT=point, FILL_DISK_FILE=str(filler))


def eio_at(point: str, calls: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """For a child started under `fiu_run()` whose POSIX `calls` (libfiu names, comma-separated, e.g.
    `posix/io/rw/pwrite`) fail with EIO from `point` on."""
    return _with_hook(environ, EIO_AT=point, EIO_CALLS=calls, **FIU_ENVIRON)


def fiu_run() -> list[str] | None:
    """The command prefix that starts a process under libfiu's POSIX wrappers (None: not installed)."""
    fiu = shutil.which("fiu-run")
    return None if fiu is None else [fiu, "-x"]
