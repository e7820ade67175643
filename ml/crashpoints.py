"""Named crash points for the fault-injection tests (tests/reliability/test_crashes.py).

`crash_point("score:in_transaction")` kills the process with SIGKILL, exactly as an OOM killer or a
power cut would, when the environment variable CRASH_AT names that point. Otherwise it costs one
environment lookup. The points sit between the writes whose order makes a crash safe, so the tests
can prove that a rerun recovers from every one of them.
"""

from __future__ import annotations

import os
import signal


def crash_point(name: str) -> None:
    if os.environ.get("CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
