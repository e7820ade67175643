"""Crash points: the places where the kill tests stop a stream process dead, as the OOM killer or a
power cut would, between two steps that must not be separated by a crash without consequence.

`STREAMING_CRASH_AT=<point>` (or `<point>@<n>`, the n-th time the process reaches it) makes the
process SIGKILL itself there: no handler runs, no buffer is flushed, no file is closed. Unset (as
everywhere but those tests), a crash point is one dictionary lookup."""

from __future__ import annotations

import os
import signal
from collections import Counter

VARIABLE = "STREAMING_CRASH_AT"
_reached: Counter[str] = Counter()


def crash_point(name: str) -> None:
    wanted = os.environ.get(VARIABLE)
    if wanted is None or wanted.partition("@")[0] != name:
        return
    _reached[name] += 1
    if _reached[name] >= int(wanted.partition("@")[2] or 1):
        os.kill(os.getpid(), signal.SIGKILL)
