"""The environment that makes a process launched by a test die at a named write point."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

KILL_HOOK = Path(__file__).with_name("kill_hook")


def crash_at(point: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """`environ` (default: this process's) for a child that is killed with SIGKILL at `point`."""
    base = dict(os.environ if environ is None else environ)
    path = os.pathsep.join(filter(None, [str(KILL_HOOK), base.get("PYTHONPATH", "")]))
    return {**base, "PYTHONPATH": path, "CRASH_AT": point}
