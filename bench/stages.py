"""The pipeline, stage by stage, at one scale: the commands, their environment, and the row counts.

Layout of a scale's work directory (`<work-dir>/<scale>/`):

    landing/  oracle/  held_back/      the generated world; held_back/ holds the newest landing day
    pipeline/                          the stage-by-stage run: build file, models, published file, ...
    dagster/                           the incremental scenario's own warehouse and DAGSTER_HOME
    logs/<stage>.log                   every command's output

Order, and what each step sees of the landing zone:

1. `generate` writes the world. Where the incremental scenario runs (tiny, default), the newest
   landing day is then moved to held_back/, so the stages and the full Dagster run see the same
   landing zone (every day but the newest) and are comparable; elsewhere nothing is held back and
   the stages see every day.
2. Stages 2-8 (inventory ... publish) build a fresh warehouse under pipeline/, like a first run.
3. `scoring_microbench`, `serving_load` (default: the online API at 500 requests/s on the published
   file) and `baseline_pandas` run on that warehouse and landing zone.
4. `dagster_full` builds a second fresh warehouse under dagster/ with `make build`'s command, and
   `dagster_nothing_new` runs that command again (nothing changed: it runs nothing); then the
   held-back day goes back into the landing zone and `dagster_daily` runs the daily job for it on
   top of the full run, and `dagster_daily_rerun` runs it again on the same data. After each run
   the storage runs leave behind is measured (run history, dbt artifacts, the build file).

Each build starts from nothing (the pipeline/ and dagster/ directories are deleted first); only the
generated world is kept, and reused with --reuse-data when it was generated with the same arguments.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from bench.measure import MIB, Measurement, StageFailed, StageResult, run_measured
from bench.scales import Scale
from bench.serving import RATE_PER_S, load_test
from orchestration.lib.dbt_target import seed_manifest

REPO_ROOT = Path(__file__).resolve().parents[1]
WAREHOUSE_DIR = REPO_ROOT / "warehouse"
BIN = Path(sys.executable).parent
PYTHON = sys.executable
DBT = str(BIN / "dbt")
DAGSTER = str(BIN / "dagster")

# The three dbt stages are the three phases of a run (warehouse/selectors.yml), as Dagster and a
# terminal user run them: together they select every model, seed, snapshot and test exactly once
# (tests/warehouse/test_selectors.py).
DBT_BEFORE_ML = ("--selector", "before_ml")
# without landing-day vars the daily phase loads every landing day not loaded yet: all of them here
DBT_DAILY = ("--selector", "daily")
DBT_AFTER_SCORES = ("--selector", "after_scores")

# Run-context variables that would point a stage at someone else's files if inherited.
CLEARED_VARIABLES = ("DBT_TARGET_PATH", "MODEL_SPECS_DIR", "CRASH_AT")


@dataclass(frozen=True)
class Build:
    """One warehouse's own files: build file, model store, published file, Dagster home, dbt output."""

    root: Path

    @property
    def warehouse_db(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def analytics_db(self) -> Path:
        return self.root / "analytics.duckdb"

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster_home"

    @property
    def dbt_target(self) -> Path:
        return self.root / "dbt_target"

    def environ(self) -> dict[str, str]:
        return {
            "WAREHOUSE_DB": str(self.warehouse_db),
            "MODELS_DIR": str(self.root / "models"),
            "ANALYTICS_DB": str(self.analytics_db),
            "REJECTED_DIR": str(self.root / "landing_rejected"),
            "DAGSTER_HOME": str(self.dagster_home),
            "DBT_TARGET_PATH": str(self.dbt_target),
            "DBT_LOG_PATH": str(self.root / "dbt_logs"),
        }

    def storage(self) -> dict[str, int]:
        """Bytes on disk of what runs leave behind: Dagster's run history (DAGSTER_HOME/history: runs
        and their event logs), the steps' captured stdout/stderr (DAGSTER_HOME/storage), dbt's
        artifacts and logs, and the build file."""
        return {
            "run_history": tree_bytes(self.dagster_home / "history"),
            "compute_logs": tree_bytes(self.dagster_home / "storage"),
            "dbt_artifacts": tree_bytes(self.dbt_target) + tree_bytes(self.root / "dbt_logs"),
            "warehouse_db": tree_bytes(self.warehouse_db),
        }

    def reset(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True)
        seed_manifest(self.dbt_target)  # the inventory reads the landing contract from it


@dataclass
class Workspace:
    """A scale's work directory and the measurements taken in it."""

    scale: Scale
    root: Path
    results: list[StageResult] = field(default_factory=list)
    specs_dir: Path | None = None

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def oracle(self) -> Path:
        return self.root / "oracle"

    @property
    def held_back(self) -> Path:
        return self.root / "held_back"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def pipeline(self) -> Build:
        return Build(self.root / "pipeline")

    @property
    def dagster(self) -> Build:
        return Build(self.root / "dagster")

    def environ(self, build: Build) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if key not in CLEARED_VARIABLES}
        env.update(build.environ())
        env.update(
            {
                "LANDING_DIR": str(self.landing),
                "DBT_PROFILES_DIR": str(WAREHOUSE_DIR),
                "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
                "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true",
                "DAGSTER_EVENT_BATCH_SIZE": "1000",
            }
        )
        if self.specs_dir is not None:
            env["MODEL_SPECS_DIR"] = str(self.specs_dir)
        return env

    def measure(self, name: str, argv: list[str], build: Build, cwd: Path = REPO_ROOT) -> Measurement:
        log = self.logs / f"{name}.log"
        print(f"[{self.scale.name}] {name:<20} running (output: {log})", flush=True)
        return run_measured(name, argv, self.environ(build), cwd, log)

    def record(self, result: StageResult) -> StageResult:
        self.results.append(result)
        rows = f"{result.rows:,} rows" if result.rows is not None else "-"
        figures = f"{result.wall_s:8.2f} s {result.peak_rss_mb:8.0f} MiB  {rows}"
        print(f"[{self.scale.name}] {result.name:<20} {figures}", flush=True)
        return result


# --- reading results -------------------------------------------------------------------------------


def tree_bytes(path: Path) -> int:
    """Bytes of a file, or of every file under a folder (0 if absent)."""
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else 0


def scalar(database: Path, sql: str, params: list | None = None) -> int:
    """The single number a query returns, from a file opened read-only (after the stage exited)."""
    with duckdb.connect(str(database), read_only=True) as con:
        (value,) = con.execute(sql, params or []).fetchone()
    return int(value or 0)


def parquet_rows(files: Path) -> int:
    """Rows in a parquet file, or in every file a glob matches."""
    with duckdb.connect() as con:
        (rows,) = con.execute("select count(*) from read_parquet(?)", [str(files)]).fetchone()
    return int(rows)


def landing_payment_rows(landing: Path) -> int:
    return parquet_rows(landing / "payments" / "payments" / "date=*" / "*.parquet")


def score_rows(database: Path) -> int:
    return scalar(
        database,
        "select (select count(*) from ml.payment_fraud_scores) "
        "+ (select count(*) from ml.daily_demand_scores)",
    )


def published_rows(analytics: Path) -> int:
    with duckdb.connect(str(analytics), read_only=True) as con:
        tables = con.execute("select schema_name, table_name from duckdb_tables()").fetchall()
        return sum(int(con.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0]) for s, t in tables)


# What each stage's `rows` counts, and how it is read after the stage.
SCORES = "rows in ml.payment_fraud_scores + ml.daily_demand_scores"
TRAINED = "rows of the training datasets (train + validation + test) of each model's newest version"
NEWEST_VERSIONS = (
    "select sum(train_rows + validation_rows + test_rows) from ml.model_registry r "
    "where version = (select max(version) from ml.model_registry where model_name = r.model_name)"
)


# --- the landing zone ------------------------------------------------------------------------------


def day_folders(root: Path) -> list[Path]:
    return sorted(path for path in root.glob("*/*/date=*") if path.is_dir())


def move_day_folders(folders: list[Path], source: Path, target: Path) -> None:
    for folder in folders:
        destination = target / folder.relative_to(source)
        if destination.exists():
            raise FileExistsError(f"{destination} exists: the landing zone and held_back/ overlap")
        destination.parent.mkdir(parents=True, exist_ok=True)
        folder.rename(destination)


def hold_back_newest_day(workspace: Workspace) -> str:
    """Move every table's folder of the newest landing day to held_back/ (same relative paths)."""
    folders = day_folders(workspace.landing)
    newest = max(folder.name for folder in folders)
    move_day_folders([f for f in folders if f.name == newest], workspace.landing, workspace.held_back)
    return newest.removeprefix("date=")


def restore_held_back(workspace: Workspace) -> None:
    """Put held-back day folders back into the landing zone (also a previous, interrupted run's)."""
    move_day_folders(day_folders(workspace.held_back), workspace.held_back, workspace.landing)
    shutil.rmtree(workspace.held_back, ignore_errors=True)


# --- the stages ------------------------------------------------------------------------------------


def generate(workspace: Workspace, reuse: bool) -> None:
    """Stage 1: the simulator; skipped with --reuse-data when this scale's world is already there."""
    stamp = workspace.root / "generated-with.txt"
    arguments = workspace.scale.description
    if reuse and workspace.landing.is_dir() and stamp.is_file() and stamp.read_text() == arguments:
        restore_held_back(workspace)
        print(f"[{workspace.scale.name}] generate: reusing {workspace.landing}", flush=True)
        return
    shutil.rmtree(workspace.held_back, ignore_errors=True)
    stamp.unlink(missing_ok=True)
    argv = [PYTHON, "-m", "simulator", "generate", *workspace.scale.sim_args]
    argv += ["--out", str(workspace.landing), "--oracle-out", str(workspace.oracle), "--no-progress"]
    measured = workspace.measure("generate", argv, workspace.pipeline)
    rows = parquet_rows(workspace.oracle / "payments.parquet")
    workspace.record(
        StageResult.of("generate", measured, rows, "payments generated (oracle payments.parquet)")
    )
    stamp.write_text(arguments)


def dbt_build(workspace: Workspace, name: str, selection: tuple[str, ...]) -> Measurement:
    build = workspace.pipeline
    argv = [DBT, "build", *selection, "--target-path", str(build.dbt_target)]
    return workspace.measure(name, argv, build, cwd=WAREHOUSE_DIR)


@dataclass(frozen=True)
class Stage:
    """A pipeline stage: how to run it, and what its `rows` are and how to read them afterwards."""

    name: str
    run: Callable[[Workspace], Measurement]
    rows_of: str
    rows: Callable[[Workspace], int]


def python_module(name: str, *args: str) -> Callable[[Workspace], Measurement]:
    return lambda ws: ws.measure(name, [PYTHON, "-m", *args], ws.pipeline)


PIPELINE_STAGES = (
    Stage(
        "inventory",
        python_module("inventory", "orchestration.lib.landing_inventory"),
        "landing rows of payments/payments (every table's files are checked)",
        lambda ws: landing_payment_rows(ws.landing),
    ),
    Stage(
        "dbt_before_ml",
        lambda ws: dbt_build(ws, "dbt_before_ml", DBT_BEFORE_ML),
        "rows in marts.fct_orders + features.feat_daily_demand",
        lambda ws: scalar(
            ws.pipeline.warehouse_db,
            "select (select count(*) from marts.fct_orders) "
            "+ (select count(*) from features.feat_daily_demand)",
        ),
    ),
    Stage(
        "dbt_daily",
        lambda ws: dbt_build(ws, "dbt_daily", DBT_DAILY),
        "rows in marts.fct_payments",
        lambda ws: scalar(ws.pipeline.warehouse_db, "select count(*) from marts.fct_payments"),
    ),
    Stage(
        "train",
        python_module("train", "ml", "train"),
        TRAINED,
        lambda ws: scalar(ws.pipeline.warehouse_db, NEWEST_VERSIONS),
    ),
    Stage(
        "score",
        python_module("score", "ml", "score"),
        SCORES,
        lambda ws: score_rows(ws.pipeline.warehouse_db),
    ),
    Stage(
        "dbt_after_scores",
        lambda ws: dbt_build(ws, "dbt_after_scores", DBT_AFTER_SCORES),
        f"{SCORES} (what the marts on the scores read)",
        lambda ws: score_rows(ws.pipeline.warehouse_db),
    ),
    Stage(
        "publish",
        python_module("publish", "orchestration.defs.publish"),
        "rows of every published table in ANALYTICS_DB",
        lambda ws: published_rows(ws.pipeline.analytics_db),
    ),
)
PIPELINE_STAGE_NAMES = tuple(stage.name for stage in PIPELINE_STAGES)


def run_pipeline(workspace: Workspace) -> None:
    """Stages 2-8 on a fresh warehouse."""
    workspace.pipeline.reset()
    for stage in PIPELINE_STAGES:
        measured = stage.run(workspace)
        workspace.record(StageResult.of(stage.name, measured, stage.rows(workspace), stage.rows_of))


def module_exists(module: str) -> bool:
    return (REPO_ROOT / Path(*module.split("."))).with_suffix(".py").is_file()


def scoring_microbench(workspace: Workspace) -> dict | None:
    """Stage 9: `python -m bench.scoring` on the pipeline's warehouse; None if the module is absent."""
    if not module_exists("bench.scoring"):
        print(f"[{workspace.scale.name}] scoring_microbench: bench/scoring.py is missing, skipped")
        return None
    output = workspace.root / "scoring.json"
    output.unlink(missing_ok=True)
    argv = [PYTHON, "-m", "bench.scoring", "--json", str(output)]
    measured = workspace.measure("scoring_microbench", argv, workspace.pipeline)
    figures = json.loads(output.read_text())
    rows = figures.get("rows") if isinstance(figures.get("rows"), int) else None
    workspace.record(StageResult.of("scoring_microbench", measured, rows, "rows scored (bench.scoring)"))
    return figures


def serving_load(workspace: Workspace) -> dict:
    """Stage 11: the online API on the pipeline's published snapshot under a fixed request rate."""
    print(f"[{workspace.scale.name}] serving_load: {RATE_PER_S} requests/s on loopback", flush=True)
    figures = load_test(workspace.environ(workspace.pipeline), workspace.root)
    print(
        f"[{workspace.scale.name}] serving_load         p50 {figures['p50_ms']:.2f} ms, p99 "
        f"{figures['p99_ms']:.2f} ms, {figures['throughput_per_s']:.0f}/s, {figures['not_200']} not 200",
        flush=True,
    )
    return figures


def baseline_pandas(workspace: Workspace) -> dict | None:
    """Stage 10: the pandas baseline over the same landing zone; None if the module is absent."""
    if not module_exists("bench.baseline_pandas"):
        print(f"[{workspace.scale.name}] baseline_pandas: bench/baseline_pandas.py is missing, skipped")
        return None
    output, database = workspace.root / "baseline.json", workspace.root / "baseline.duckdb"
    output.unlink(missing_ok=True)
    database.unlink(missing_ok=True)
    argv = [PYTHON, "-m", "bench.baseline_pandas", "--landing", str(workspace.landing)]
    argv += ["--db", str(database), "--seeds", str(REPO_ROOT / "seeds"), "--json", str(output)]
    measured = workspace.measure("baseline_pandas", argv, workspace.pipeline)
    rows = landing_payment_rows(workspace.landing)
    workspace.record(StageResult.of("baseline_pandas", measured, rows, "landing rows of payments/payments"))
    return json.loads(output.read_text())


def fresh_dagster_instance(build: Build) -> None:
    """A new warehouse and DAGSTER_HOME with the project's instance settings, as `make build` sets up."""
    build.reset()
    build.dagster_home.mkdir()
    shutil.copy(REPO_ROOT / "orchestration" / "dagster.yaml", build.dagster_home / "dagster.yaml")


def make_run(build: Build, job: str, *args: str) -> list[str]:
    """`make build`'s command, `python -m orchestration.run`: the job through Dagster over every
    landing day present (or `--day D`), its full log beside the build."""
    return [PYTHON, "-m", "orchestration.run", job, *args, "--log-dir", str(build.root / "run_logs")]


def incremental_scenario(workspace: Workspace, held_back_day: str) -> dict[str, dict[str, int]]:
    """Stage 11: the full Dagster run over the landing zone, the same command again with nothing new,
    then the held-back day on its own, then that day again (a rerun of the same data). Returns the
    storage after each run."""
    build = workspace.dagster
    fresh_dagster_instance(build)
    storage = {"before": build.storage()}
    fct_payments = "select count(*) from marts.fct_payments"
    for stage in ("dagster_full", "dagster_nothing_new"):
        measured = workspace.measure(stage, make_run(build, "full_pipeline"), build)
        rows = scalar(build.warehouse_db, fct_payments)
        workspace.record(StageResult.of(stage, measured, rows, "rows in marts.fct_payments"))
        storage[stage] = build.storage()

    restore_held_back(workspace)
    rows_of = f"rows in marts.fct_payments loaded on {held_back_day} (the held-back day)"
    for stage in ("dagster_daily", "dagster_daily_rerun"):
        measured = workspace.measure(stage, make_run(build, "daily_refresh", "--day", held_back_day), build)
        rows = scalar(build.warehouse_db, f"{fct_payments} where loaded_on = ?::date", [held_back_day])
        workspace.record(StageResult.of(stage, measured, rows, rows_of))
        storage[stage] = build.storage()
    return storage


def storage_growth(storage: dict[str, dict[str, int]]) -> dict[str, dict[str, float]]:
    """MiB each run added to each kind of storage (negative: it shrank)."""
    runs = list(storage)
    return {
        run: {kind: (storage[run][kind] - storage[before][kind]) / MIB for kind in storage[run]}
        for before, run in itertools.pairwise(runs)
    }


DEFINITIONS_CODE = (
    "import time; t = time.perf_counter(); import orchestration.definitions as d; "
    "d.defs.resolve_asset_graph(); print(time.perf_counter() - t)"
)
BARE_IMPORTS_CODE = (
    "import time; t = time.perf_counter(); import dagster, dagster_dbt; print(time.perf_counter() - t)"
)


def definitions_load(logs: Path, samples: int = 3) -> dict:
    """Stage 12: fresh interpreters importing the definitions and resolving the asset graph (what
    `dagster dev` pays on every reload, imports included; production specs), each paired with one
    importing dagster and dagster-dbt alone, alternately, so both see the same machine. The figure
    is the ratio of the two bests: an absolute time would measure the machine, not the code."""
    timings: dict[str, list[float]] = {"definitions": [], "bare_imports": []}
    peaks = []
    for attempt in range(samples):
        for name, code in (("definitions", DEFINITIONS_CODE), ("bare_imports", BARE_IMPORTS_CODE)):
            measured = run_measured(
                f"{name}_load",
                [PYTHON, "-c", code],
                os.environ,
                REPO_ROOT,
                logs / f"{name}_load-{attempt}.log",
            )
            timings[name].append(last_number(measured.log.read_text()))
            if name == "definitions":
                peaks.append(measured.peak_rss_mb)
    best, bare = min(timings["definitions"]), min(timings["bare_imports"])
    return {
        "samples_s": timings["definitions"],
        "best_s": best,
        "bare_imports_samples_s": timings["bare_imports"],
        "bare_imports_best_s": bare,
        "vs_bare_imports": best / bare,
        "peak_rss_mb": max(peaks),
    }


def last_number(text: str) -> float:
    for line in reversed(text.splitlines()):
        try:
            return float(line.strip())
        except ValueError:
            continue
    raise ValueError(f"no number printed:\n{text[-2000:]}")


@dataclass
class ScaleRun:
    """Everything measured at one scale; `failure` names the stage that stopped it, if one did."""

    scale: Scale
    stages: list[StageResult] = field(default_factory=list)
    held_back_day: str | None = None
    scoring: dict | None = None
    baseline: dict | None = None
    serving: dict | None = None
    storage: dict | None = None
    failure: dict | None = None


def run_scale(
    scale: Scale, work_dir: Path, reuse_data: bool, baseline: bool, dagster: bool = True
) -> ScaleRun:
    """Every stage of one scale in order. A failing stage ends the scale: what was measured before
    it is kept, the failure is recorded (and printed with the end of its log)."""
    workspace = Workspace(scale, work_dir / scale.name)
    run = ScaleRun(scale, workspace.results)
    workspace.root.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(workspace.logs, ignore_errors=True)
    if scale.short_specs:
        from tests.pipeline import tiny_specs  # the test suite's shortened specs (see bench/scales.py)

        workspace.specs_dir = tiny_specs(workspace.root / "specs")
    try:
        generate(workspace, reuse_data)
        if scale.dagster_scenario and dagster:
            run.held_back_day = hold_back_newest_day(workspace)
        run_pipeline(workspace)
        if scale.scoring_microbench:
            run.scoring = scoring_microbench(workspace)
        if scale.serving_load:
            run.serving = serving_load(workspace)
        if baseline:
            run.baseline = baseline_pandas(workspace)
        if run.held_back_day is not None:
            run.storage = incremental_scenario(workspace, run.held_back_day)
    except StageFailed as failure:
        print(failure, file=sys.stderr, flush=True)
        run.failure = failure.summary()
    return run
