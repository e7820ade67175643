"""sqlfluff does not depend on the state of data/, and lints both branches of incremental models.

Guards against issue 12: `make run` then `make test` failed in lint on a fresh clone. sqlfluff's dbt
templater compiled against the warehouse `make run` had built, so `is_incremental()` was true and
the incremental branch of fct_payments, never linted before, had 9 violations."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import WAREHOUSE_DIR
from tests.pipeline import PipelineRun

LINT = WAREHOUSE_DIR / "scripts" / "lint.py"


def load_lint():
    spec = importlib.util.spec_from_file_location("warehouse_lint", LINT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_incremental_models_come_from_the_manifest() -> None:
    lint = load_lint()
    manifest = json.loads((WAREHOUSE_DIR / "target" / "manifest.json").read_text())
    found = {
        (schema, name, path): columns for schema, name, path, columns in lint.incremental_models(manifest)
    }
    assert ("marts", "fct_payments", "models/marts/finance/fct_payments.sql") in found
    assert all(
        manifest["nodes"][f"model.warehouse.{Path(path).stem}"]["config"]["materialized"] == "incremental"
        for _, _, path in found
    )
    # an incremental branch that reads its own table finds the documented columns there
    base = found["staging", "base_payments__payments", "models/staging/payments/base_payments__payments.sql"]
    assert '"_source_file" varchar' in base and '"_dq_reason" varchar' in base


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_lint_after_a_build_is_clean_on_both_branches(tiny_pipeline_run: PipelineRun) -> None:
    env = tiny_pipeline_run.env
    assert tiny_pipeline_run.result.returncode == 0
    # the built warehouse is the profile's database here: against it, is_incremental() is true
    lint = load_lint()
    paths = [path for _, _, path, _ in lint.incremental_models(lint.load_manifest())]
    built, manifest = digest(env.database), digest(WAREHOUSE_DIR / "target" / "manifest.json")
    result = subprocess.run(
        [sys.executable, str(LINT), *paths],
        cwd=WAREHOUSE_DIR,
        env=env.environ(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert f"incremental branches of {len(paths)} incremental model(s)" in output
    assert output.count("All Finished") == 2  # both passes ran
    # lint neither read nor wrote the build, nor replaced the manifest Dagster loads
    assert digest(env.database) == built
    assert digest(WAREHOUSE_DIR / "target" / "manifest.json") == manifest
