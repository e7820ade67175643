"""Run one command as a subprocess and measure it: wall time and the peak memory of its process tree.

Memory is the resident set size of the process plus all its descendants (dbt's and Dagster's own
subprocesses included), sampled every 50 ms with psutil; the peak is the largest sum seen. Pages
shared between processes are counted once per process, so the figure is an upper bound of what
the tree really held, and a peak shorter than one sampling interval can be missed.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

SAMPLE_INTERVAL_S = 0.05
MIB = 1024 * 1024
LOG_TAIL_CHARS = 4000


@dataclass(frozen=True)
class Measurement:
    wall_s: float
    peak_rss_mb: float
    returncode: int
    log: Path

    def log_tail(self, chars: int = LOG_TAIL_CHARS) -> str:
        return self.log.read_text(errors="replace")[-chars:]


@dataclass(frozen=True)
class StageResult:
    """One measured stage. `rows` is what the stage processed or produced (`rows_of` says which),
    None where no row count is meaningful."""

    name: str
    wall_s: float
    peak_rss_mb: float
    rows: int | None
    rows_per_s: float | None
    rows_of: str | None = None

    @classmethod
    def of(cls, name: str, measured: Measurement, rows: int | None, rows_of: str | None) -> StageResult:
        return cls(
            name, measured.wall_s, measured.peak_rss_mb, rows, throughput(rows, measured.wall_s), rows_of
        )


class StageFailed(RuntimeError):
    """A measured command exited with an error; the message carries the end of its log."""

    def __init__(self, stage: str, measured: Measurement) -> None:
        super().__init__(
            f"stage {stage} failed (exit {measured.returncode}) after {measured.wall_s:.1f} s; "
            f"log {measured.log}, last lines:\n{measured.log_tail()}"
        )
        self.stage, self.measured = stage, measured

    def summary(self) -> dict:
        """What the result file records of the failure (the log stays in the work directory)."""
        return {
            "stage": self.stage,
            "exit_code": self.measured.returncode,
            "wall_s": self.measured.wall_s,
            "log": str(self.measured.log),
        }


def throughput(rows: int | None, wall_s: float) -> float | None:
    return rows / wall_s if rows is not None and wall_s > 0 else None


def tree_rss(process: psutil.Process) -> int:
    """Bytes resident in the process and all its descendants right now (0 once it is gone)."""
    try:
        members = [process, *process.children(recursive=True)]
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return 0
    total = 0
    for member in members:
        try:
            total += member.memory_info().rss
        except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            continue  # exited between the listing and the reading
    return total


def kill_tree(pid: int) -> None:
    """Kill a process this module started, and its descendants (children first)."""
    try:
        root = psutil.Process(pid)
        members = [*root.children(recursive=True), root]
    except psutil.NoSuchProcess:
        return
    for member in members:
        try:
            member.kill()
        except psutil.NoSuchProcess:
            continue


def run_measured(
    name: str,
    argv: Sequence[str],
    env: Mapping[str, str],
    cwd: Path,
    log: Path,
    timeout_s: float | None = None,
) -> Measurement:
    """Run `argv` to completion, its stdout and stderr in `log`; raise StageFailed if it fails."""
    log.parent.mkdir(parents=True, exist_ok=True)
    peak = 0
    with log.open("w") as out:
        out.write(f"$ {' '.join(argv)}\n(cwd {cwd})\n")
        out.flush()
        start = time.perf_counter()
        child = subprocess.Popen(list(argv), cwd=cwd, env=dict(env), stdout=out, stderr=subprocess.STDOUT)
        try:
            process = psutil.Process(child.pid)
            while True:
                peak = max(peak, tree_rss(process))
                try:
                    child.wait(timeout=SAMPLE_INTERVAL_S)
                    break
                except subprocess.TimeoutExpired:
                    if timeout_s is not None and time.perf_counter() - start > timeout_s:
                        raise
        finally:
            if child.poll() is None:  # timed out or interrupted: do not leave the tree running
                kill_tree(child.pid)
                child.wait()
        wall = time.perf_counter() - start
    measured = Measurement(wall, peak / MIB, child.returncode, log)
    if child.returncode != 0:
        raise StageFailed(name, measured)
    return measured
