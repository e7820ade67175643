"""Scoring, serving and reports use a trained model without importing training."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO_ROOT


def test_scoring_and_serving_do_not_import_training() -> None:
    code = (
        "import sys, ml.score, ml.artifacts, ml.report, ml.serving.champion; "
        "print(sorted(m for m in sys.modules if m in ('ml.train', 'ml.training_run', 'ml.gates')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"
