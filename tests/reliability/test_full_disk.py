"""Full disks and failing writes, injected into real runs of the tiny pipeline's steps.

- ENOSPC: the step runs in a size-limited tmpfs (mounted by the test; root only). At a named write
  point (ml/write_points.py), or while dbt is building, the file system is filled with one file,
  so the step's next write that needs a block fails in the kernel, as on a disk that filled up.
- EIO: the step runs under libfiu (`fiu-run -x`, Debian's fiu-utils): its preloaded wrappers of
  the POSIX calls fail the chosen calls (DuckDB's `pwrite`, a `rename`) with EIO from a named
  point on, or from the instant the test enables them in a running dbt (`fiu-ctrl`).

After each: the step failed with an error naming the step and the file; the published file is the
last good snapshot; the build file opens; no score is duplicated; every registered version has its
complete artifact; nothing half-written is left beside them. Then the fault is removed, the step
rerun, and every `marts` and `ml` table equals the uninterrupted run's (row hashes).

Training and scoring load LightGBM, which loads scikit-learn, whose import aborts under libfiu's
wrapped allocator ("double free"): EIO is injected where a process can run under fiu-run (dbt, the
publish, the landing inventory); ENOSPC everywhere.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import DBT, REPO_ROOT, WAREHOUSE_DIR
from tests.pipeline import PipelineEnv, PipelineRun, table_checksums
from tests.reliability import faults
from tests.reliability.fault_hook.full_disk import fill_file_system
from tests.reliability.test_crashes import PUBLISH, assert_safe_after_a_crash, ml_cli, start_until

pytestmark = pytest.mark.slow

DISK = "256m"  # the tiny world's files take about 110 MB; a rerun needs room for its log
TRAIN = ml_cli("train", "--force", "payment_fraud")
SCORE = ml_cli("score", "payment_fraud", "--days", "2025-02-01", "2025-02-10")
INVENTORY = [sys.executable, "-m", "orchestration.lib.landing_inventory"]
DBT_BUILD = [
    str(DBT),
    "build",
    "--select",
    "fct_payments+",
    "--vars",
    json.dumps({"landing_day_from": "2025-01-01", "landing_day_to": "2025-04-30"}),
]
FIU_CTRL = "fiu-ctrl"


@pytest.fixture(scope="module")
def baseline(tiny_pipeline_run: PipelineRun) -> tuple[PipelineEnv, dict, dict]:
    assert tiny_pipeline_run.result.returncode == 0
    env = tiny_pipeline_run.env
    return env, table_checksums(env.database), table_checksums(env.analytics, run_logs=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of DISK bytes, unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK}", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"a size-limited tmpfs cannot be mounted here: {mounted.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "--lazy", str(mount)], check=False)


@pytest.fixture
def fiu() -> list[str]:
    command = faults.fiu_run()
    if command is None:
        pytest.skip("libfiu's fiu-run is not installed (Debian package fiu-utils)")
    return command


def run(env: PipelineEnv, args: list[str], environ: dict[str, str] | None = None, cwd: Path = REPO_ROOT):
    return subprocess.run(
        args, cwd=cwd, env=environ or env.environ(), capture_output=True, text=True, timeout=900
    )


def assert_failed_cleanly(env: PipelineEnv, failed: subprocess.CompletedProcess, published: dict) -> str:
    """The step failed, said so, and left the warehouse as a crash would (and nothing half-written)."""
    output = failed.stdout + failed.stderr
    assert failed.returncode not in (0, -9), output[-5000:]
    assert_safe_after_a_crash(env, published)
    assert not list(env.work_dir.glob(".analytics.duckdb.*.tmp*")), "a publish staging file is left"
    assert not list(env.models_dir.glob("*/.*")), "a staging artifact is left"
    assert not list(env.rejected_dir.rglob("*.tmp")), "a half-written rejection record is left"
    return output


def assert_reported(output: str, step: str, folder: Path, cause: str) -> None:
    """The last line the process printed is the error: the step, a file under `folder`, the cause
    (not an error raised while cleaning up, with the real one buried in the traceback above it)."""
    last = output.strip().splitlines()[-1]
    assert step in last and cause in last, output[-3000:]
    assert str(folder) in last.split(step, 1)[1], f"the error names no file: {last}"


def assert_rerun_equals_uninterrupted(
    env: PipelineEnv, args: list[str], built: dict, published: dict, cwd: Path = REPO_ROOT
) -> None:
    rerun = run(env, args, cwd=cwd)
    assert rerun.returncode == 0, (rerun.stdout + rerun.stderr)[-5000:]
    assert table_checksums(env.database) == built
    assert table_checksums(env.analytics, run_logs=True) == published


# point -> (command, what the error must name besides the file)
FULL_AT_POINT = {
    "train:before_artifact": (TRAIN, "training payment_fraud: writing version 2's artifact failed on"),
    "score:in_transaction": (SCORE, "scoring payment_fraud: writing ml.payment_fraud_scores failed on"),
    "publish:before_copy": (PUBLISH, "publishing analytics.duckdb failed on"),
}


@pytest.mark.parametrize("point", FULL_AT_POINT)
def test_a_disk_that_fills_at_a_write_point(
    baseline: tuple[PipelineEnv, dict, dict], small_disk: Path, point: str
) -> None:
    source, built, published = baseline
    env = source.copy_to(small_disk / "warehouse", link_landing=False)
    command, step = FULL_AT_POINT[point]
    filler = small_disk / "filler"
    failed = run(env, command, faults.fill_disk_at(point, filler, env.environ()))
    assert_reported(
        assert_failed_cleanly(env, failed, published), step, env.work_dir, "No space left on device"
    )
    filler.unlink()
    assert_rerun_equals_uninterrupted(env, command, built, published)


def test_a_disk_full_at_the_publish_rename_does_not_stop_it(
    baseline: tuple[PipelineEnv, dict, dict], small_disk: Path
) -> None:
    """The candidate is written, checked and fsynced before the rename, which needs no new block."""
    source, _, published = baseline
    env = source.copy_to(small_disk / "warehouse", link_landing=False)
    environ = faults.fill_disk_at("publish:before_audit", small_disk / "filler", env.environ())
    done = run(env, PUBLISH, environ)
    assert done.returncode == 0, done.stderr[-3000:]
    # the disk was full when it renamed: the only room now is what the replaced file freed
    room = os.statvfs(small_disk)
    assert room.f_bavail * room.f_frsize <= source.analytics.stat().st_size + room.f_frsize
    assert table_checksums(env.analytics, run_logs=True) == published
    assert not list(env.work_dir.glob(".analytics.duckdb.*.tmp*"))


def test_a_full_disk_when_the_inventory_rejects_a_file(
    baseline: tuple[PipelineEnv, dict, dict], small_disk: Path
) -> None:
    source, _, published = baseline
    env = source.copy_to(small_disk / "warehouse", link_landing=False)
    bad = reject_candidate(env)
    environ = env.environ()  # before the disk fills: it copies dbt's manifest into the target folder
    filler = small_disk / "filler"
    fill_file_system(filler)
    failed = run(env, INVENTORY, environ)
    output = assert_failed_cleanly(env, failed, published)
    step = f"landing inventory: rejecting {bad.relative_to(env.landing_dir)} failed on"
    assert_reported(output, step, env.rejected_dir, "No space left on device")
    assert bad.exists()  # not moved: its record could not be written
    filler.unlink()
    assert_rejected_once(env, bad)


def test_eio_when_the_inventory_moves_a_rejected_file(
    baseline: tuple[PipelineEnv, dict, dict], tmp_path: Path, fiu: list[str]
) -> None:
    source, _, published = baseline
    env = source.copy_to(tmp_path)
    bad = reject_candidate(env)
    environ = faults.eio_at("inventory:after_record", "posix/io/dir/rename", env.environ())
    failed = run(env, [*fiu, *INVENTORY], environ)
    output = assert_failed_cleanly(env, failed, published)
    step = f"landing inventory: rejecting {bad.relative_to(env.landing_dir)} failed on {bad}"
    assert_reported(output, step, env.rejected_dir, "Input/output error (EIO)")
    assert bad.exists()
    assert_rejected_once(env, bad)


def reject_candidate(env: PipelineEnv) -> Path:
    """An unreadable file in the latest payments day (a new file: the landing zone may be linked)."""
    day = sorted((env.landing_dir / "payments" / "payments").glob("date=*"))[-1]
    bad = day / "part-09999.parquet"
    bad.write_bytes(b"not parquet at all")
    return bad


def assert_rejected_once(env: PipelineEnv, bad: Path) -> None:
    """The rerun moves the file and leaves one record beside it."""
    assert run(env, INVENTORY).returncode == 0
    moved = env.rejected_dir / bad.relative_to(env.landing_dir)
    assert moved.exists() and not bad.exists()
    assert len(list(moved.parent.glob("*.rejection.parquet"))) == 1


# (point, libfiu failure points) -> what the error must name
EIO_AT_POINT = {
    ("publish:before_copy", "posix/io/rw/pwrite"): "publishing analytics.duckdb failed on",
    ("publish:before_audit", "posix/io/dir/rename"): "publishing analytics.duckdb failed on",
}


@pytest.mark.parametrize(("point", "calls"), EIO_AT_POINT)
def test_eio_at_a_publish_write(
    baseline: tuple[PipelineEnv, dict, dict], tmp_path: Path, fiu: list[str], point: str, calls: str
) -> None:
    source, built, published = baseline
    env = source.copy_to(tmp_path)
    failed = run(env, [*fiu, *PUBLISH], faults.eio_at(point, calls, env.environ()))
    output = assert_failed_cleanly(env, failed, published)
    assert_reported(output, EIO_AT_POINT[(point, calls)], env.work_dir, "Input/output error")
    assert_rerun_equals_uninterrupted(env, PUBLISH, built, published)


def fault_during(
    env: PipelineEnv, args: list[str], marker: str, inject: Callable[[int], None], log: Path, cwd: Path
) -> subprocess.CompletedProcess:
    """Run `args`, its output to `log` (not on the disk that fills); 0.5 s after `marker` appears,
    `inject(pid)`; wait for the end."""
    process = start_until(env, args, marker, 0.5, log, cwd)
    inject(process.pid)
    returncode = process.wait(timeout=600)
    return subprocess.CompletedProcess(args, returncode, log.read_text(errors="replace"), "")


DBT_MARKER = "START sql incremental model marts.fct_payments"


def test_a_disk_that_fills_during_dbt_build(
    baseline: tuple[PipelineEnv, dict, dict], small_disk: Path, tmp_path: Path
) -> None:
    source, built, published = baseline
    env = source.copy_to(small_disk / "warehouse", link_landing=False)
    filler = small_disk / "filler"
    fill = lambda _: fill_file_system(filler)  # noqa: E731
    failed = fault_during(env, DBT_BUILD, DBT_MARKER, fill, tmp_path / "dbt.log", WAREHOUSE_DIR)
    output = assert_failed_cleanly(env, failed, published)
    # dbt names the model and the cause; the file is named only in its closing summary, which it
    # prints after writing its manifest to the same (full) disk: lost (docs/reliability.md)
    assert "ERROR creating sql incremental model marts.fct_payments" in output, output[-5000:]
    assert "No space left on device" in output
    filler.unlink()
    assert_rerun_equals_uninterrupted(env, DBT_BUILD, built, published, cwd=WAREHOUSE_DIR)


def test_eio_during_dbt_build(
    baseline: tuple[PipelineEnv, dict, dict], tmp_path: Path, fiu: list[str]
) -> None:
    source, built, published = baseline
    env = source.copy_to(tmp_path)
    faulted = PipelineEnv(
        env.landing_dir, env.database, env.work_dir, env.specs_dir, settings=faults.FIU_ENVIRON
    )

    def fail_writes(pid: int) -> None:
        # DuckDB writes its blocks with pwrite and makes each commit durable with fsync (its log is
        # appended with write, which dbt's own logging shares: left alone)
        for call in ("posix/io/rw/pwrite", "posix/io/sync/fsync", "posix/io/sync/fdatasync"):
            enable = f"enable name={call},failinfo={errno.EIO}"
            subprocess.run([FIU_CTRL, "-c", enable, str(pid)], check=True, timeout=30)

    log = tmp_path / "dbt.log"
    failed = fault_during(faulted, [*fiu, *DBT_BUILD], DBT_MARKER, fail_writes, log, WAREHOUSE_DIR)
    # DuckDB 1.5 does not report the failed write in dbt's output: it aborts the process with an
    # internal error in the model being built (docs/reliability.md). The data promises hold.
    assert_failed_cleanly(env, failed, published)
    assert_rerun_equals_uninterrupted(env, DBT_BUILD, built, published, cwd=WAREHOUSE_DIR)
