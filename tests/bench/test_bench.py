"""`python -m bench` end to end on the tiny world: every stage runs and is measured, the result file
holds what the report promises, and the docs section is generated between its markers only."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.report import END, START, load_results, render, update_docs
from tests.conftest import REPO_ROOT

PIPELINE = ("inventory", "dbt_before_ml", "dbt_daily", "train", "score", "dbt_after_scores", "publish")
# The Dagster scenario (a full run, then one new day) is left out here: it would add about 3 minutes
# to CI, and tests/orchestration and tests/reliability run the same jobs on the same tiny world.
TINY_STAGES = ("generate", *PIPELINE)


@pytest.mark.slow
@pytest.mark.bench
def test_bench_measures_every_stage_of_the_tiny_world(tmp_path: Path) -> None:
    results, docs = tmp_path / "results", tmp_path / "benchmarks.md"
    # one interpreter per side of the definitions-load ratio: the harness is under test, not the figure
    command = [sys.executable, "-m", "bench", "--scale", "tiny", "--skip-baseline", "--skip-dagster"]
    command += ["--load-samples", "1"]
    command += ["--work-dir", str(tmp_path / "work"), "--results-dir", str(results), "--docs", str(docs)]
    run = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, f"{run.stdout[-3000:]}\n{run.stderr[-5000:]}"

    result = json.loads((results / "tiny.json").read_text())
    assert result["failure"] is None
    stages = {stage["name"]: stage for stage in result["stages"]}
    assert tuple(stages) == TINY_STAGES
    for name, stage in stages.items():
        assert stage["wall_s"] > 0, name
        assert stage["peak_rss_mb"] > 0, name
        assert stage["rows"] > 0 and stage["rows_per_s"] > 0 and stage["rows_of"], name
    # the world and its counts agree: every landing payment row checked, the valid ones in the mart
    assert stages["inventory"]["rows"] >= stages["dbt_daily"]["rows"] > 0.9 * stages["inventory"]["rows"]

    total = result["pipeline_total"]
    assert total["wall_s"] == pytest.approx(sum(stages[name]["wall_s"] for name in PIPELINE))
    assert total["peak_rss_mb"] == max(stages[name]["peak_rss_mb"] for name in PIPELINE)
    assert result["ratios"]["incremental_vs_full"] is None  # --skip-dagster
    assert result["ratios"]["nothing_new_vs_full"] is None
    assert result["ratios"]["baseline_vs_pipeline"] is None  # --skip-baseline
    assert result["scoring"] is None and result["baseline"] is None  # not at the tiny scale
    load = result["definitions_load"]
    assert len(load["samples_s"]) == len(load["bare_imports_samples_s"]) == 1
    assert load["best_s"] == min(load["samples_s"]) > 0
    assert load["vs_bare_imports"] == pytest.approx(load["best_s"] / min(load["bare_imports_samples_s"]))
    assert result["storage"] is None  # measured in the Dagster scenario only
    assert result["held_back_day"] is None  # only held back for the Dagster scenario
    assert result["git"]["commit"] and result["machine"]["cpu_count"] >= 1

    targets = result["targets"]
    assert {
        "dagster_full_pipeline_s",
        "incremental_vs_full",
        "nothing_new_vs_full",
        "definitions_load_vs_bare_imports",
        "daily_run_history_growth_mb",
        "rerun_warehouse_growth_mb",
        "scoring_rows_per_s",
    } <= set(targets)
    assert targets["definitions_load_vs_bare_imports"]["met"] is (load["vs_bare_imports"] <= 1.5)
    assert targets["rerun_warehouse_growth_mb"]["value"] is None
    assert targets["dagster_full_pipeline_s"] == {
        "value": None,
        "bound": "<= 60",
        "met": None,
        "applies_at": ["default"],
    }

    text = docs.read_text()
    assert text.startswith("# Benchmarks\n") and START in text and END in text
    assert "### tiny" in text and "| publish |" in text and "**pipeline_total**" in text


def test_the_docs_section_is_replaced_between_the_markers_only(tmp_path: Path) -> None:
    docs = tmp_path / "benchmarks.md"
    update_docs(docs, "first")
    assert docs.read_text() == f"# Benchmarks\n\n{START}\nfirst\n{END}\n"

    docs.write_text(f"# Benchmarks\n\nProse before.\n\n{START}\nold\n{END}\n\nProse after.\n")
    update_docs(docs, "new")
    assert docs.read_text() == f"# Benchmarks\n\nProse before.\n\n{START}\nnew\n{END}\n\nProse after.\n"


def test_the_report_reads_the_scale_results_only() -> None:
    """make bench failed at its report with KeyError 'scale': bench-dask and bench-spark write their
    results (no scale) into the same folder."""
    results = load_results(REPO_ROOT / "bench" / "results")
    assert {result["scale"] for result in results} >= {"default", "M"}
    assert render(results)  # the committed results render, as `make bench` renders them
