"""A Redis server on loopback for the demo and the tests: Debian's `redis-server` (`apt-get install
redis-server`; CI installs it), on a free port, its data and log in a folder of the caller's, the
append-only file on (fsync every second), no snapshots, stopped at the end of the block."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from ml.loopback import free_port, stop

START_TIMEOUT_S = 10.0


class RedisServerError(RuntimeError):
    pass


@contextmanager
def redis_server(directory: Path, port: int | None = None) -> Iterator[str]:
    """Start a server keeping its files in `directory`; yields its URL (redis://127.0.0.1:<port>/0)."""
    executable = shutil.which("redis-server")
    if executable is None:
        raise RedisServerError(
            "redis-server is not installed: `apt-get install redis-server` (Debian's Redis 7)"
        )
    directory.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    log = directory / "redis.log"
    argv = [executable, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(directory)]
    argv += ["--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--logfile", str(log)]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        _wait_until_up(url, process, log)
        yield url
    finally:
        stop([process], timeout_s=10)


def _wait_until_up(url: str, process: subprocess.Popen, log: Path) -> None:
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                tail = log.read_text()[-2000:] if log.exists() else ""
                raise RedisServerError(f"redis-server exited with {process.returncode}:\n{tail}")
            try:
                if client.ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RedisServerError(f"redis-server did not answer on {url} within {START_TIMEOUT_S:g} s")
    finally:
        client.close()
