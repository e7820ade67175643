"""A tiny generated world taken through the whole Dagster graph (the `tiny_pipeline_run` fixture in
tests/conftest.py runs it once per session).

The tiny world is too short for the production specs (a 90-day label maturity plus validation and
test windows), so its specs are the real ones with shorter windows and lower floors, written to a
private MODEL_SPECS_DIR: the graph is generated from them exactly as from ml/models/.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from ml.specs import SPEC_DIR
from tests.conftest import REPO_ROOT, DbtEnv

TINY_PIPELINE = {
    "seed": 5,
    "days": 120,
    "customers": 1500,
    "stores": 2,
    "products": 12,
    "payments_per_day": 300,
}
# Per spec: dotted field -> value, applied to the real spec.
TINY_SPEC_CHANGES = {
    "payment_fraud": {
        "label.maturity_days": 30,
        "split.cutoff_days_before_latest": 7,
        "split.validation_days": 20,
        "split.test_days": 20,
        "lightgbm.params.min_data_in_leaf": 20,
        "gates.floors": {"auc_pr": 0.05, "auc_roc": 0.6},
    },
    "daily_demand": {
        "split.validation_days": 14,
        "split.test_days": 14,
        "gates.floors": {"wape": 0.9},
    },
}


def tiny_specs(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, changes in TINY_SPEC_CHANGES.items():
        spec = yaml.safe_load((SPEC_DIR / f"{name}.yml").read_text())
        for dotted, value in changes.items():
            *parents, leaf = dotted.split(".")
            node = spec
            for part in parents:
                node = node[part]
            assert leaf in node, f"{name}.yml has no {dotted}"
            node[leaf] = value
        (directory / f"{name}.yml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return directory


@dataclass(frozen=True)
class PipelineEnv(DbtEnv):
    """A DbtEnv plus what a Dagster run needs: its own instance, specs and published file."""

    specs_dir: Path = Path()

    @property
    def analytics(self) -> Path:
        return self.work_dir / "analytics.duckdb"

    def environ(self) -> dict[str, str]:
        return {
            **super().environ(),
            "ANALYTICS_DB": str(self.analytics),
            "DAGSTER_HOME": str(self.work_dir / "dagster_home"),
            "MODEL_SPECS_DIR": str(self.specs_dir),
            "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true",
        }

    def copy_to(self, root: Path) -> PipelineEnv:
        """The build file, model store and published file copied; the landing zone hard-linked (add
        files to the copy, never rewrite one in place: that would change the original too)."""
        root.mkdir(parents=True, exist_ok=True)
        shutil.copytree(self.landing_dir, root / "landing", copy_function=os.link)
        shutil.copy(self.database, root / "warehouse.duckdb")
        shutil.copy(self.analytics, root / "analytics.duckdb")
        shutil.copytree(self.models_dir, root / "models")
        copy = PipelineEnv(root / "landing", root / "warehouse.duckdb", root, self.specs_dir)
        copy.python(
            "-c",
            "import duckdb, sys; con = duckdb.connect(sys.argv[1]); con.execute("
            "'update ml.model_registry set artifact_path = replace(artifact_path, ?, ?)', sys.argv[2:])",
            str(copy.database),
            str(self.models_dir),
            str(copy.models_dir),
        )
        return copy

    def run_job(self, job: str) -> subprocess.CompletedProcess[str]:
        """`make build`'s command: the job over every landing day present, as one run."""
        environ = self.environ()
        os.makedirs(environ["DAGSTER_HOME"], exist_ok=True)
        tags = self.python("-m", "orchestration.lib.landing").stdout
        json.loads(tags)
        dagster = Path(sys.executable).with_name("dagster")
        return subprocess.run(
            [str(dagster), "job", "execute", "-m", "orchestration.definitions", "-j", job, "--tags", tags],
            cwd=REPO_ROOT,
            env=environ,
            capture_output=True,
            text=True,
            timeout=1200,
        )


@dataclass(frozen=True)
class PipelineRun:
    env: PipelineEnv
    result: subprocess.CompletedProcess[str]

    @property
    def log(self) -> str:
        return self.result.stdout + self.result.stderr
