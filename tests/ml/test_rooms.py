"""Scoring, serving and monitoring use a trained model without importing training (ml/training/)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO_ROOT


def test_scoring_serving_and_monitoring_do_not_import_training() -> None:
    code = (
        "import sys, ml.scoring.batch, ml.artifacts, ml.serving.champion, ml.monitoring.run; "
        "print(sorted(m for m in sys.modules if m.startswith('ml.training')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"
