"""Loaded at interpreter start by processes the fault-injection tests launch with this folder on
PYTHONPATH (`tests/reliability/faults.py`). On reaching the write point (ml/write_points.py) named by

- CRASH_AT: the process kills itself with SIGKILL, exactly as an OOM killer or a power cut would;
- FILL_DISK_AT: it fills the file system holding FILL_DISK_FILE (a size-limited tmpfs the test
  mounted) with that one file, so that the next write that needs a block fails with ENOSPC from
  the kernel, as on a disk that filled up;
- EIO_AT: it turns on libfiu's failure points named by EIO_CALLS, with errno EIO. The process must
  run under `fiu-run -x` (Debian's fiu-utils), whose preloaded wrappers of the POSIX calls then
  fail: the failure comes from the C library boundary, below DuckDB and Python alike.

Production code knows nothing of it: the points are audit events."""

import ctypes
import errno
import os
import signal
import sys

_CRASH = os.environ.get("CRASH_AT")
_FILL = os.environ.get("FILL_DISK_AT")
_EIO = os.environ.get("EIO_AT")


def fail_calls_with_eio(calls: str) -> None:
    """Enable libfiu's failure points (already loaded by fiu-run's preload) with errno EIO."""
    libfiu = ctypes.CDLL("libfiu.so.0")
    libfiu.fiu_enable.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_uint]
    for name in calls.split(","):
        assert libfiu.fiu_enable(name.encode(), 1, errno.EIO, 0) == 0, name


def _at_point(event: str, args: tuple) -> None:
    if event != "warehouse.write_point" or not args:
        return
    if args[0] == _CRASH:
        os.kill(os.getpid(), signal.SIGKILL)
    if args[0] == _FILL:
        from full_disk import fill_file_system  # beside this file, on PYTHONPATH

        fill_file_system(os.environ["FILL_DISK_FILE"])
    if args[0] == _EIO:
        fail_calls_with_eio(os.environ["EIO_CALLS"])


if _CRASH or _FILL or _EIO:
    sys.addaudithook(_at_point)
