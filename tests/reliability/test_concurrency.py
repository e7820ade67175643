"""Concurrency: analysts reading the published file during a full run and its publish never see an
error or a half-published state; a second run started meanwhile is refused. And the rerun itself
(the daily job over every landing day, over a warehouse that is already built) changes no table:
rebuilding partitions is idempotent."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.pipeline import PipelineRun, table_checksums

pytestmark = pytest.mark.slow


def test_readers_and_a_second_run_during_a_full_run(tiny_pipeline_run: PipelineRun, tmp_path: Path) -> None:
    assert tiny_pipeline_run.result.returncode == 0
    env = tiny_pipeline_run.env.copy_to(tmp_path / "copy")
    before = table_checksums(env.database)
    stop = tmp_path / "stop"
    reader = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.reader", str(env.analytics), str(stop)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    first = env.start_job("daily_refresh")
    # the second run starts once the first holds the warehouse (its first dbt step has started; the
    # console shows INFO and above)
    deadline = time.monotonic() + 300
    while "Running dbt command" not in first.log_so_far() and time.monotonic() < deadline:
        time.sleep(0.5)
    second = env.run_job("daily_refresh")
    first_result = first.wait()
    stop.touch()
    summary = json.loads(reader.communicate(timeout=60)[0])
    print(f"reader during the run: {summary}")  # the figure in docs/reliability.md (pytest -rP)

    assert first_result.returncode == 0, first_result.stdout[-5000:]
    assert second.returncode != 0
    assert "another pipeline run is writing" in second.stdout + second.stderr
    assert summary["errors"] == [] and summary["inconsistent"] == 0, summary
    assert summary["queries"] > 20 and summary["snapshots"] == 2, summary  # before and after the publish
    after = table_checksums(env.database)
    assert after == before and {"marts.fct_payments", "ml.payment_fraud_scores"} <= set(after)
