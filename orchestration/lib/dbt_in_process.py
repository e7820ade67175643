"""dbt invocations inside the run's own process: dbt imported, and the project parsed, once per run.

Dagster's jobs here run every step in the run's process (the in-process executor). dagster-dbt
starts a dbt process for each invocation, and each one imports dbt (about 2 s here) and loads the
parse state (about 1 s) before any work: three times in every run. Here dagster-dbt's invocation
is kept whole (arguments, selection, target folder, and the translation of dbt's events into
Dagster's) and only the process is replaced: `InProcessDbt` runs the same command line through
dbt's programmatic entry point (`dbtRunner`) on a thread, with the environment and working folder
the process would have had, and hands dagster-dbt the JSON log lines a dbt process prints.

The first invocation parses the project (partially, from the saved parse state); later ones reuse
that manifest while the project's files and the environment are unchanged. The landing days of
the daily phase are the exception: the `day_var` macro reads them inside a model's SQL, which dbt
renders when it runs the model, so they do not make a parsed manifest stale.

dbt's state is per process and not thread-safe, so one invocation runs at a time (a lock), and the
working folder and environment are the process's for as long as it runs: nothing else in the run
works while a dbt step does.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from orchestration.lib.environment import environ_set

# read at parse time by no file of the project (see the module docstring), or where dbt writes
COMPILE_TIME_ENV = frozenset({"LANDING_DAY_FROM", "LANDING_DAY_TO", "DBT_TARGET_PATH", "DBT_LOG_PATH"})
# the project's own folders only: dbt's output and installed packages are not its inputs
SKIPPED_FOLDERS = frozenset({"target", "logs", "dbt_packages", "dbt_internal_packages", "__pycache__"})
STDOUT_LEVELS = frozenset({"info", "warn", "error"})  # what a dbt process prints at --log-level info
# dbt's own exit codes: 1 when a node failed, 2 when dbt itself could not run the command
EXIT_FAILURE, EXIT_ERROR = 1, 2

_LOCK = threading.Lock()
_manifest: tuple[str, Any] | None = None  # (key, dbt Manifest) of the last parse in this process


def project_folders(project_dir: Path) -> list[Path]:
    """The project's folder and the folders dbt_project.yml names outside it (`seed-paths:
    ["../seeds"]` here)."""
    config_file = project_dir / "dbt_project.yml"
    config = yaml.safe_load(config_file.read_text()) if config_file.is_file() else None
    named = {
        (project_dir / path).resolve()
        for key, paths in (config or {}).items()
        if key.endswith("-paths") and isinstance(paths, list)
        for path in paths
    }
    return [project_dir, *sorted(p for p in named if not p.is_relative_to(project_dir.resolve()))]


def project_state(project_dir: Path, env: Mapping[str, str]) -> str:
    """What a parsed manifest depends on: every project file by path, size and modification time,
    and the environment apart from COMPILE_TIME_ENV."""
    digest = hashlib.sha256()
    for root in project_folders(project_dir):
        for folder, subfolders, files in os.walk(root):
            subfolders[:] = sorted(d for d in subfolders if d not in SKIPPED_FOLDERS and d[:1] != ".")
            for name in sorted(files):
                path = os.path.join(folder, name)
                stat = os.stat(path)
                digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    for name in sorted(set(env) - COMPILE_TIME_ENV):
        digest.update(f"{name}={env[name]}\n".encode())
    return digest.hexdigest()


class _LinePipe:
    """The dbt process's stdout as dagster-dbt reads it: a closable iterable of byte lines."""

    def __init__(self) -> None:
        self._lines: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self.closed = False

    def put(self, event: Mapping[str, Any]) -> None:
        """One event as dbt's JSON logger writes it, secrets (DBT_ENV_SECRET_*) scrubbed."""
        from dbt_common.exceptions.base import env_secrets, scrub_secrets

        line = json.dumps(event, sort_keys=True, default=str)
        self._lines.put(scrub_secrets(line, env_secrets()).encode())

    def end(self) -> None:
        self._lines.put(None)

    def __iter__(self) -> Iterator[bytes]:
        while (line := self._lines.get()) is not None:
            yield line

    def __enter__(self) -> _LinePipe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.closed = True


def error_event(message: str) -> dict[str, Any]:
    """A log line at error level, as dbt prints one, for a failure outside dbt's own handling."""
    return {"info": {"level": "error", "msg": message, "name": "MainEncounteredError"}, "data": {}}


@contextlib.contextmanager
def process_state(env: Mapping[str, str], cwd: str | os.PathLike[str] | None) -> Iterator[None]:
    """The environment and working folder a dbt process would have had, for this process. Only the
    variables that differ change (dagster-dbt's environment is this one plus dbt's settings)."""
    differing = {name for name in set(env) | set(os.environ) if os.environ.get(name) != env.get(name)}
    with environ_set({name: env.get(name) for name in differing}), contextlib.chdir(cwd or os.getcwd()):
        yield


def parsed_manifest(project_dir: Path) -> Any | None:
    """The manifest for this project and environment: the last one if still current, else a new
    parse (partial, from the target folder's parse state; its own log lines only in dbt.log, at
    warn). None when parsing fails: the command then parses on its own and reports the error
    through its events."""
    global _manifest
    from dbt.cli.main import dbtRunner

    key = project_state(project_dir, os.environ)
    if _manifest is not None and _manifest[0] == key:
        return _manifest[1]
    _manifest = None
    quiet = ["--log-level", "none", "--log-level-file", "warn"]
    result = dbtRunner().invoke(["parse", *quiet, "--project-dir", str(project_dir)])
    if not result.success:
        return None
    _manifest = (key, result.result)
    return result.result


def release_database() -> None:
    """Close the DuckDB database dbt-duckdb keeps open between invocations of one process (a class
    attribute of its connection manager, not closed by dbt's cleanup). A dbt process released it by
    exiting; without this, the run's own read-only connection afterwards is refused ("a different
    configuration than existing connections")."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    environment = DuckDBConnectionManager._ENV
    DuckDBConnectionManager.close_all_connections()
    if environment is not None:
        environment.close()


class InProcessDbt:
    """The part of `subprocess.Popen` that dagster-dbt's invocation uses (`args`, `stdout`, `wait`,
    `returncode`, `send_signal`), running the dbt command line in this process.

    With `start=False` the command waits for `start()`: dagster-dbt creates the process inside a
    `pushd` of the project folder and leaves it right after, and a dbt thread already in that
    folder would be moved back out of it (the working folder is the process's, not the thread's).
    """

    def __init__(
        self,
        args: Sequence[str],
        stdout: object = None,
        stderr: object = None,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        start: bool = True,
    ) -> None:
        self.args = list(args)
        self.returncode: int | None = None
        self.stdout = _LinePipe()
        self._env = dict(os.environ if env is None else env)
        self._cwd = cwd
        self._thread = threading.Thread(target=self._run, name="dbt", daemon=True)
        if start:
            self.start()

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            with _LOCK, process_state(self._env, self._cwd):
                self.returncode = self._invoke(self.args[1:])  # args[0] is the dbt executable
        except BaseException as exc:  # reported as dbt reports an error; the step then fails
            self.stdout.put(error_event(f"dbt failed in this process: {type(exc).__name__}: {exc}"))
            self.returncode = EXIT_ERROR
        finally:
            self.stdout.end()

    def _invoke(self, args: list[str]) -> int:
        from dbt.cli.main import dbtRunner
        from dbt_common.events.functions import msg_to_dict

        project_dir = Path(self._env.get("DBT_PROJECT_DIR") or self._cwd or os.getcwd())
        manifest = parsed_manifest(project_dir)

        def forward(message: Any) -> None:
            if message.info.level in STDOUT_LEVELS:
                self.stdout.put(msg_to_dict(message))

        runner = dbtRunner(manifest=manifest, callbacks=[forward])
        try:
            result = runner.invoke(["--log-level", "none", *args])
        finally:
            release_database()
        if result.success:
            return 0
        if result.exception is not None:
            self.stdout.put(error_event(str(result.exception)))
            return EXIT_ERROR
        return EXIT_FAILURE

    def wait(self, timeout: float | None = None) -> int | None:
        self._thread.join(timeout)
        return self.returncode

    def send_signal(self, signal: int) -> None:
        """dbt has no way to stop an invocation from outside: the run waits for it to end."""
