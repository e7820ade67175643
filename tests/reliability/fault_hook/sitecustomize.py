"""Loaded at interpreter start by processes the fault-injection tests launch with this folder on
PYTHONPATH (`tests/reliability/faults.py`): when CRASH_AT names a write point
(ml/write_points.py), the process kills itself with SIGKILL on reaching it, exactly as an OOM
killer or a power cut would. Production code knows nothing of it: the points are audit events."""

import os
import signal
import sys

_POINT = os.environ.get("CRASH_AT")


def _kill_at_point(event: str, args: tuple) -> None:
    if event == "warehouse.write_point" and args and args[0] == _POINT:
        os.kill(os.getpid(), signal.SIGKILL)


if _POINT:
    sys.addaudithook(_kill_at_point)
