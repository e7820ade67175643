"""Rooms: scoring, serving and monitoring use a trained model without importing training
(ml/training/), and ml/ never imports serving/."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO_ROOT


def test_scoring_serving_and_monitoring_do_not_import_training() -> None:
    code = (
        "import sys, ml.scoring.batch, ml.artifacts, serving.champion, ml.monitoring.run; "
        "print(sorted(m for m in sys.modules if m.startswith('ml.training')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"


def test_the_ml_package_does_not_depend_on_serving() -> None:
    """serving/ is built on ml/, never the other way round: nothing in ml/ imports it."""
    importers = [
        str(path.relative_to(REPO_ROOT))
        for path in sorted((REPO_ROOT / "ml").rglob("*.py"))
        if any(
            line.startswith(("from serving", "import serving"))
            for line in (stripped.strip() for stripped in path.read_text().splitlines())
        )
    ]
    assert importers == []
