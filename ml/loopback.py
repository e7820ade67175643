"""Local services on loopback: a port to start one on, and stopping their processes."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Sequence


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (the OS picks it; another process could take it
    before the caller binds, which on a test machine does not happen in practice)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stop(processes: Sequence[subprocess.Popen], timeout_s: float) -> None:
    """SIGTERM to each process still running, then wait up to `timeout_s` for each to exit; one
    that has not is killed (SIGKILL) and reaped."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
