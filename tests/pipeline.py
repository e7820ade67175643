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
import time
import uuid
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


def tiny_specs(directory: Path, spec_changes: dict[str, dict[str, object]] | None = None) -> Path:
    """The real specs with `spec_changes` (default TINY_SPEC_CHANGES) applied, written to `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, changes in (spec_changes or TINY_SPEC_CHANGES).items():
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
            "DAGSTER_EVENT_BATCH_SIZE": "1000",
        }

    def copy_to(self, root: Path, link_landing: bool = True) -> PipelineEnv:
        """The build file, model store and published file copied; the landing zone hard-linked (add
        files to the copy, never rewrite one in place: that would change the original too), or
        copied (`link_landing=False`: to another file system)."""
        root.mkdir(parents=True, exist_ok=True)
        copy = os.link if link_landing else shutil.copy2
        shutil.copytree(self.landing_dir, root / "landing", copy_function=copy)
        shutil.copy(self.database, root / "warehouse.duckdb")
        shutil.copy(self.analytics, root / "analytics.duckdb")
        shutil.copytree(self.models_dir, root / "models")
        return PipelineEnv(root / "landing", root / "warehouse.duckdb", root, self.specs_dir)

    @property
    def dagster_home(self) -> Path:
        return Path(self.environ()["DAGSTER_HOME"])

    def landing_tags(self) -> str:
        """The project's instance settings in DAGSTER_HOME (as `make build` copies them), the landing
        days present registered as partitions, and the run tags covering them all."""
        self.dagster_home.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO_ROOT / "orchestration" / "dagster.yaml", self.dagster_home / "dagster.yaml")
        tags = self.python("-m", "orchestration.lib.landing").stdout
        json.loads(tags)
        return tags

    def job_command(self, job: str) -> list[str]:
        """`make build`'s command: the job over every landing day present, as one run."""
        tags = self.landing_tags()
        dagster = Path(sys.executable).with_name("dagster")
        return [str(dagster), "job", "execute", "-m", "orchestration.definitions", "-j", job, "--tags", tags]

    def start_daemon(self) -> subprocess.Popen:
        """`dagster-daemon run` on this instance (what `make dev` runs beside the UI: the run queue,
        run monitoring, schedules and sensors), in its own process group, its output in a file."""
        daemon = Path(sys.executable).with_name("dagster-daemon")
        with (self.work_dir / f"daemon-{time.monotonic_ns()}.log").open("w") as out:
            return subprocess.Popen(
                [str(daemon), "run", "-w", str(REPO_ROOT / "workspace.yaml")],
                cwd=REPO_ROOT,
                env=self.environ(),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def queue_job(self, job: str) -> str:
        """Submit the job over every landing day to the instance's run queue (as the UI, a schedule
        or a sensor does); returns the run id. The daemon launches it when a slot is free."""
        run_id = str(uuid.uuid4())
        dagster = Path(sys.executable).with_name("dagster")
        command = [str(dagster), "job", "launch", "-w", str(REPO_ROOT / "workspace.yaml"), "-j", job]
        command += ["--tags", self.landing_tags(), "--run-id", run_id]
        subprocess.run(command, cwd=REPO_ROOT, env=self.environ(), capture_output=True, text=True, check=True)
        return run_id

    def instance(self):
        import dagster as dg
        from dagster._core.instance.ref import InstanceRef

        return dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(self.dagster_home)))

    def run_job(self, job: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.job_command(job),
            cwd=REPO_ROOT,
            env=self.environ(),
            capture_output=True,
            text=True,
            timeout=1200,
        )

    @property
    def run_logs(self) -> Path:
        """Where `make_run` has Dagster's full log written."""
        return self.work_dir / "run_logs"

    def make_run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`make run`'s command: `python -m orchestration.run`, Dagster's log under work_dir/logs."""
        self.landing_tags()  # the instance settings in DAGSTER_HOME, as `make build` copies them
        command = [sys.executable, "-m", "orchestration.run", *args, "--log-dir", str(self.run_logs)]
        return subprocess.run(
            command, cwd=REPO_ROOT, env=self.environ(), capture_output=True, text=True, timeout=1200
        )

    def start_job(self, job: str) -> BackgroundRun:
        """The same command, in the background, its output in a file."""
        log = self.work_dir / f"{job}-{time.monotonic_ns()}.log"
        with log.open("w") as out:
            process = subprocess.Popen(
                self.job_command(job), cwd=REPO_ROOT, env=self.environ(), stdout=out, stderr=subprocess.STDOUT
            )
        return BackgroundRun(process, log)


@dataclass(frozen=True)
class BackgroundRun:
    process: subprocess.Popen
    log: Path

    def log_so_far(self) -> str:
        return self.log.read_text(errors="replace")

    def wait(self, timeout: float = 1200) -> subprocess.CompletedProcess[str]:
        returncode = self.process.wait(timeout=timeout)
        return subprocess.CompletedProcess(self.process.args, returncode, self.log_so_far(), "")


@dataclass(frozen=True)
class PipelineRun:
    env: PipelineEnv
    result: subprocess.CompletedProcess[str]

    @property
    def output(self) -> str:
        """What the person who ran it saw."""
        return self.result.stdout + self.result.stderr

    @property
    def log(self) -> str:
        """What they saw, then Dagster's full event stream (the log files the run names)."""
        files = sorted(self.env.run_logs.glob("*.log"))
        return self.output + "".join(path.read_text(errors="replace") for path in files)


# Columns that record when or where something ran (wall clock, the copy's paths), not what it produced.
RUN_CONTEXT_COLUMNS = {
    "computed_at",
    "scored_at",
    "trained_at",
    "registered_at",
    "changed_at",
    "rejected_at",
    "dbt_updated_at",
}
# Tables that are logs of runs by design: every run appends to them.
RUN_LOGS = {"ml.model_registry", "ml.model_alias_history", "ml.model_aliases"}
# tables holding run-log rows beside others: the rows kept when run logs are left out (a forced
# training appends its version's test-window segments, as it appends a registry row)
RUN_LOG_ROWS = {"ml.segment_performance": "scope <> 'test'"}


def table_checksums(
    database: Path, schemas: tuple[str, ...] = ("marts", "ml"), run_logs: bool = False
) -> dict[str, tuple]:
    """schema.table -> (rows, order-independent hash of every row, run-context columns left out);
    the registry's run logs, and the run-log rows of other tables, only when asked (every training
    appends to them)."""
    import duckdb

    sums = {}
    with duckdb.connect(str(database), read_only=True) as con:
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() where schema_name in (select unnest(?)) "
            "order by all",
            [list(schemas)],
        ).fetchall()
        for schema, table in tables:
            if f"{schema}.{table}" in RUN_LOGS and not run_logs:
                continue
            columns = [
                name
                for (name,) in con.execute(
                    "select column_name from duckdb_columns() where schema_name = ? and table_name = ? "
                    "order by column_index",
                    [schema, table],
                ).fetchall()
                if name not in RUN_CONTEXT_COLUMNS
            ]
            hashed = ", ".join(f'"{c}"' for c in columns)
            kept = RUN_LOG_ROWS.get(f"{schema}.{table}") if not run_logs else None
            sums[f"{schema}.{table}"] = con.execute(
                f'select count(*), sum(hash({hashed})) from "{schema}"."{table}"'
                + (f" where {kept}" if kept else "")
            ).fetchone()
    return sums
