"""Shared test fixtures: paths, and running dbt against a throw-away warehouse."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
WAREHOUSE_DIR = REPO_ROOT / "warehouse"
DBT = Path(sys.executable).with_name("dbt")
# A salt no default matches, so that a test can look for it wherever it must never be written.
TEST_PII_SALT = "test-salt-9f3c27d1e04b"
# dbt arguments for a build that only sets up or is a reference to compare with: its data tests run
# elsewhere (tests/warehouse/test_dbt_build.py runs every one on a built warehouse)
NO_DATA_TESTS = "--exclude-resource-type test unit_test"


@dataclass(frozen=True)
class DbtEnv:
    """A private warehouse: its own landing zone, DuckDB file, model store and dbt target/log paths."""

    landing_dir: Path
    database: Path
    work_dir: Path
    settings: Mapping[str, str] = field(default_factory=dict, kw_only=True)  # more environment variables

    @property
    def models_dir(self) -> Path:
        return self.work_dir / "models"

    @property
    def rejected_dir(self) -> Path:
        return self.work_dir / "rejected"

    @property
    def target_dir(self) -> Path:
        """dbt's target path for this warehouse; the Dagster definitions read its manifest."""
        return self.work_dir / "target"

    def environ(self) -> dict[str, str]:
        self._seed_manifest()
        return {
            **os.environ,
            "LANDING_DIR": str(self.landing_dir),
            "WAREHOUSE_DB": str(self.database),
            "MODELS_DIR": str(self.models_dir),
            "REJECTED_DIR": str(self.rejected_dir),
            "DBT_PROFILES_DIR": str(WAREHOUSE_DIR),
            "DBT_TARGET_PATH": str(self.target_dir),
            "DBT_LOG_PATH": str(self.work_dir / "logs"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "WAREHOUSE_PII_SALT": TEST_PII_SALT,
            **self.settings,
        }

    def _seed_manifest(self) -> None:
        """The project's parsed manifest (`make install`'s) in this target path, unless a test
        parsed its own there: Dagster loads its graph from it."""
        from orchestration.lib.dbt_target import seed_manifest

        seed_manifest(self.target_dir)

    def dbt(
        self, *args: str, check: bool = True, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run the dbt CLI from the project directory, as a user would in a terminal."""
        result = subprocess.run(
            [str(DBT), *args],
            cwd=WAREHOUSE_DIR,
            env={**self.environ(), **(env or {})},
            capture_output=True,
            text=True,
            timeout=900,
        )
        if check and result.returncode != 0:
            pytest.fail(f"dbt {' '.join(args)} failed ({result.returncode}):\n{result.stdout[-6000:]}")
        return result

    def in_process(self, *commands: str) -> subprocess.CompletedProcess[str]:
        """dbt and `python -m ml` commands run one after another in one process (tests/in_process.py),
        as a Dagster run does: dbt imported and the project parsed once, not once per command."""
        return self.python("-m", "tests.in_process", *commands)

    def python(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run `python -m ...` with this warehouse's environment."""
        result = subprocess.run(
            [sys.executable, *args],
            cwd=REPO_ROOT,
            env=self.environ(),
            capture_output=True,
            text=True,
            timeout=900,
        )
        if result.returncode != 0:
            pytest.fail(
                f"python {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )
        return result


def generate_world(root: Path, **knobs) -> tuple[Path, Path]:
    """Generate a landing zone and its oracle under `root`; returns (landing, oracle)."""
    from simulator import SimConfig, generate

    landing, oracle = root / "landing", root / "oracle"
    generate(
        SimConfig(out_dir=landing, oracle_dir=oracle, seeds_dir=REPO_ROOT / "seeds", progress=False, **knobs)
    )
    return landing, oracle


def pytest_configure(config: pytest.Config) -> None:
    """Every data path points at a folder that does not exist, so that code falling back on a
    default instead of the path its test gave it fails here, as it would on a fresh machine, rather
    than reading what `make run` left in data/. And OpenMP threads sleep while they wait."""
    import tempfile

    # LightGBM's OpenMP threads spin while they wait for each other. Two workers on two cores leave no
    # core idle, so a spinning thread burns the time slice its partner needs: training the default
    # world's fraud model took 32.5 s beside one busy process, 11.4 s with waiting threads asleep, and
    # the regime-change replay used half the CPU. Same arithmetic, same model bytes; set before any
    # LightGBM is loaded here, and inherited by every dbt, `python -m ml` and Dagster process.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from ml.settings import PATHS

    nowhere = Path(tempfile.mkdtemp(prefix="no-default-paths-")) / "unset"
    for name, (variable, _default) in PATHS.items():
        if name != "specs_dir":  # the shipped specs are code, not data
            os.environ[variable] = str(nowhere / name)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def tiny_pipeline_run(tmp_path_factory: pytest.TempPathFactory):
    """`make run`'s command on a tiny world, from an empty database, as on a first run."""
    import shutil

    from tests.pipeline import TINY_PIPELINE, PipelineEnv, PipelineRun, tiny_specs

    root = tmp_path_factory.mktemp("tiny-pipeline")
    landing, oracle = generate_world(root, **TINY_PIPELINE)
    shutil.rmtree(oracle)  # the pipeline never needs the oracle
    env = PipelineEnv(landing, root / "warehouse.duckdb", root, tiny_specs(root / "specs"))
    return PipelineRun(env, env.make_run("full_pipeline"))


@pytest.fixture(scope="session")
def trained_warehouse(tmp_path_factory: pytest.TempPathFactory):
    """The default world trained and scored (tests/trained.py), shared by tests/ml and tests/serving."""
    from tests.trained import build_trained_warehouse

    yield from build_trained_warehouse(tmp_path_factory)


# Session fixtures that cost minutes. pytest-xdist's workers take a test module whole (its module fixtures
# are built once), and every module that uses one of these worlds goes to the same worker, so that each
# world is built once per run, not once per worker. (`--dist loadgroup` with marks set at collection does
# not group under pytest 9.2: pytest-dev/pytest-xdist#1386.)
SHARED_WORLDS = ("tiny_pipeline_run", "trained_warehouse", "built_warehouse")


@functools.cache
def work_unit(module: str) -> str:
    """A test module's unit of work for the xdist workers: the shared world it uses, else itself."""
    text = (REPO_ROOT / module).read_text()
    return next((world for world in SHARED_WORLDS if world in text), module)


# The units of work that take longest, in rough seconds on two busy cores (module fixtures and shared
# worlds included; pytest --durations). A worker that asks for work gets the costliest unit left, so
# the last units to start are short ones and the two workers finish together: handed out by number of
# tests (pytest-xdist's order), a 6-minute unit of 9 tests could start when the other worker had only
# a minute of short modules left. Only the order matters. A module marked slow or spark that is not
# named here (a new one: name it once measured) goes out before the rest, which take under half a
# minute each and follow, most tests first.
UNIT_SECONDS = {
    "tiny_pipeline_run": 780,
    "trained_warehouse": 610,
    "tests/warehouse/test_incremental_equivalence.py": 250,
    "tests/ml/test_regime_change.py": 200,
    "tests/warehouse/test_engines.py": 130,
    "built_warehouse": 140,
    "tests/reliability/test_bad_input.py": 95,
    "tests/ml/test_feature_leakage.py": 65,
    "tests/orchestration/test_dbt_in_process.py": 35,
    "tests/simulator/test_simulator.py": 30,
}
UNNAMED_SLOW_SECONDS = 60


@functools.cache
def unit_seconds(unit: str) -> int:
    if unit in UNIT_SECONDS:
        return UNIT_SECONDS[unit]
    text = (REPO_ROOT / unit).read_text() if unit.endswith(".py") else ""
    return UNNAMED_SLOW_SECONDS if "pytest.mark.slow" in text or "pytest.mark.spark" in text else 0


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    from xdist.scheduler import LoadScopeScheduling

    renamed = [unit for unit in UNIT_SECONDS if unit not in SHARED_WORLDS and not (REPO_ROOT / unit).exists()]
    if renamed:
        raise pytest.UsageError(f"UNIT_SECONDS names units that do not exist: {renamed}")

    class SharedWorldScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid.split("::")[0])

        def _assign_work_unit(self, node) -> None:
            """The costliest unit left first (ties: the queue's order, most tests first)."""
            costliest = max(self.workqueue, key=unit_seconds)
            self.workqueue.move_to_end(costliest, last=False)
            super()._assign_work_unit(node)

    return SharedWorldScheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test has its own node id, or pytest-xdist silently runs only one of those sharing it.

    schemathesis names each API operation's test `test[POST /path]` after pytest 9.2 has derived the node
    id from the bare function name, so its four tests shared one id and three never ran on the workers.
    Their id is derived again from their name, as pytest does for any node.
    """
    for item in items:
        if item.parent is not None and not item.nodeid.endswith(f"::{item.name}"):
            item._id = item.parent.id.child(item.name)
    shared = sorted(nodeid for nodeid, count in Counter(item.nodeid for item in items).items() if count > 1)
    if shared:
        raise pytest.UsageError(f"tests share a node id, so some would not run: {shared}")
