"""A throwaway PostgreSQL server on loopback for the tests: Debian's `postgresql` package (CI installs
it), a cluster initialised in a temporary folder, trust authentication, a free port. As root the
server runs as the `postgres` user (PostgreSQL refuses to run as root)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ml.loopback import free_port


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    user: str
    database: str

    def environ(self) -> dict[str, str]:
        """The DAGSTER_PG_* variables deploy/dagster.yaml reads."""
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USER": self.user,
            "DAGSTER_PG_PASSWORD": "unused-with-trust-auth",
            "DAGSTER_PG_DB": self.database,
        }


def server_binaries() -> Path | None:
    """The folder of Debian's server binaries (initdb is not on PATH there), newest version first."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def _as_server_user(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def _run(*argv: str) -> None:
    subprocess.run(_as_server_user(list(argv)), check=True, capture_output=True)


@contextmanager
def running_server(binaries: Path) -> Iterator[Server]:
    """A server for the block, removed after it. Its folder is made under the system's temporary
    folder, not pytest's (0700 folders the server user could not enter)."""
    root = Path(tempfile.mkdtemp(prefix="warehouse-postgres-"))
    data, sockets, log = root / "data", root / "sockets", root / "server.log"
    sockets.mkdir()
    if os.geteuid() == 0:
        for folder in (root, sockets):
            shutil.chown(folder, "postgres")
    try:
        with _started(binaries, data, sockets, log) as server:
            yield server
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def _started(binaries: Path, data: Path, sockets: Path, log: Path) -> Iterator[Server]:
    _run(str(binaries / "initdb"), "-D", str(data), "-U", "dagster", "--auth=trust", "-E", "UTF8")
    port = free_port()
    options = f"-h 127.0.0.1 -p {port} -k {sockets} -c fsync=off"
    _run(str(binaries / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start")
    try:
        _run(str(binaries / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "dagster", "dagster")
        yield Server(host="127.0.0.1", port=port, user="dagster", database="dagster")
    finally:
        _run(str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
