"""A second domain beside retail (ml/domains.py): switched on by configuration, skipped with one line
when its landing data is absent, and, when on, built, trained, scored and published by the same
graph without changing one retail row."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from ml.domains import DomainError, active, available
from ml.settings import Settings
from ml.specs import SPEC_DIR
from simulator.plant import PlantConfig, generate_plant
from tests.conftest import REPO_ROOT
from tests.pipeline import PipelineEnv, PipelineRun, table_checksums

SENSORS = {"WAREHOUSE_DOMAINS": "retail,sensors"}


def settings(landing: Path, **environ: str) -> Settings:
    return Settings.from_environ({"LANDING_DIR": str(landing), **environ})


def test_a_domain_switched_on_without_landing_files_is_skipped_with_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert "sensors" in available()
    assert active(settings(tmp_path)) == ("retail",)  # off by default: nothing looked at, nothing said
    assert not caplog.records
    with caplog.at_level(logging.WARNING):
        assert active(settings(tmp_path, **SENSORS)) == ("retail",)
    (record,) = caplog.records
    assert record.getMessage() == f"domain sensors: skipped, no landing files in {tmp_path}/sensors/readings"
    generate_plant(PlantConfig(out_dir=tmp_path, days=2, machines=2))
    assert active(settings(tmp_path, **SENSORS)) == ("retail", "sensors")


def test_the_command_the_makefile_parses_with_prints_the_domains_that_run(tmp_path: Path) -> None:
    environ = {**os.environ, "LANDING_DIR": str(tmp_path), **SENSORS}
    command = [sys.executable, "-m", "ml.domains"]
    skipped = subprocess.run(command, env=environ, capture_output=True, text=True, check=True)
    assert skipped.stdout == "retail\n" and skipped.stderr.count("\n") == 1, skipped.stderr
    generate_plant(PlantConfig(out_dir=tmp_path, days=2, machines=2))
    running = subprocess.run(command, env=environ, capture_output=True, text=True, check=True)
    assert running.stdout == "retail,sensors\n" and running.stderr == ""


def test_an_unknown_domain_is_refused_with_the_domains_there_are(tmp_path: Path) -> None:
    with pytest.raises(DomainError, match=r"names \['weather'\].*the domains are \['retail', 'sensors'\]"):
        active(settings(tmp_path, WAREHOUSE_DOMAINS="weather"))


def test_the_default_graph_has_no_trace_of_a_domain_switched_off() -> None:
    from orchestration.definitions import defs
    from orchestration.defs.domains import running_domains, running_specs

    assert running_domains() == ("retail",)
    assert "machine_failure" not in running_specs()
    keys = {"/".join(key.path) for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert not {key for key in keys if "machine" in key or "sensors" in key}


@pytest.fixture(scope="module")
def with_sensors(tiny_pipeline_run: PipelineRun, tmp_path_factory: pytest.TempPathFactory) -> PipelineRun:
    """The tiny retail world plus a plant, from an empty warehouse, with the sensors domain on."""
    tiny = tiny_pipeline_run.env
    root = tmp_path_factory.mktemp("two-domains")
    shutil.copytree(tiny.landing_dir, root / "landing", copy_function=os.link)
    generate_plant(PlantConfig(out_dir=root / "landing", machines=12))  # from 2024-10-01, before retail
    specs = shutil.copytree(tiny.specs_dir, root / "specs")
    shutil.copy(SPEC_DIR / "machine_failure.yml", specs)
    env = PipelineEnv(root / "landing", root / "warehouse.duckdb", root, specs, settings=SENSORS)
    # what `make install` does: the manifest parsed with the domains that run
    domains = env.python("-m", "ml.domains").stdout.strip()
    assert domains == "retail,sensors"
    env.dbt("parse", "--no-partial-parse", env={"WAREHOUSE_DOMAINS": domains})
    return PipelineRun(env, env.make_run("full_pipeline"))


@pytest.mark.slow
def test_a_second_domain_is_built_trained_scored_and_published_beside_retail(
    with_sensors: PipelineRun,
) -> None:
    assert with_sensors.result.returncode == 0, with_sensors.output[-4000:]
    env = with_sensors.env
    with duckdb.connect(str(env.database), read_only=True) as con:
        features = con.sql("select count(*) from features.feat_machine_failure").fetchone()
    with duckdb.connect(str(env.analytics), read_only=True) as con:
        scores = con.sql(
            "select count(*), count(distinct model_version), min(failure_probability) >= 0, "
            "max(failure_probability) <= 1 from ml.machine_failure_scores"
        ).fetchone()
        (champion,) = con.sql(
            "select version from ml.model_aliases where model_name = 'machine_failure' and alias = 'champion'"
        ).fetchone()
    assert features == (12 * 200,)
    with duckdb.connect(str(env.database), read_only=True) as con:
        audited = con.sql(
            "select landing_rows, staged_rows, unaccounted_rows from audit.reconciliation "
            "where landing_table = 'sensors.readings'"
        ).fetchall()
    assert audited == [(12 * 200, 12 * 200, 0)]  # the domain's landing table is reconciled too
    assert scores == (12 * 200, 1, True, True)
    assert champion == 1
    assert "Champion machine_failure v1" in with_sensors.output


@pytest.mark.slow
def test_the_second_domain_is_in_the_asset_graph_as_its_own_group(with_sensors: PipelineRun) -> None:
    probe = (
        "from orchestration.definitions import defs\n"
        "graph = defs.resolve_asset_graph()\n"
        "for key in sorted(graph.get_all_asset_keys()):\n"
        "    print('/'.join(key.path), graph.get(key).group_name)\n"
    )
    listing = with_sensors.env.python("-c", probe).stdout.splitlines()
    groups = dict(line.split(" ") for line in listing)
    assert groups["staging/stg_sensors__readings"] == "sensors"
    assert groups["features/feat_machine_failure"] == "sensors"
    assert groups["ml/machine_failure_model"] == groups["ml/machine_failure_scores"] == "ml"
    assert groups["ml/machine_failure_monitoring"] == "ml"


@pytest.mark.slow
def test_retail_is_untouched_by_the_second_domain(
    tiny_pipeline_run: PipelineRun, with_sensors: PipelineRun, tmp_path: Path
) -> None:
    """Every retail mart and ML table, row for row, as the run without the domain built them: the
    published file with the domain's own tables and its rows of the shared ML tables set aside."""
    assert with_sensors.result.returncode == 0, with_sensors.output[-4000:]
    both = tmp_path / "both.duckdb"
    shutil.copy(with_sensors.env.analytics, both)
    with duckdb.connect(str(both)) as con:
        own = con.sql(
            "select table_name from duckdb_tables() where table_name like 'machine_failure%'"
        ).fetchall()
        assert sorted(own) == [("machine_failure_backtest",), ("machine_failure_scores",)]
        con.execute("drop table ml.machine_failure_backtest; drop table ml.machine_failure_scores")
        shared = con.sql(
            "select schema_name, table_name from duckdb_columns() where column_name = 'model_name'"
        ).fetchall()
        for schema, table in shared:
            con.execute(f"delete from {schema}.{table} where model_name = 'machine_failure'")
    assert len(shared) >= 4  # the registry, the monitoring tables
    assert table_checksums(both) == table_checksums(tiny_pipeline_run.env.analytics)


def test_the_plant_is_deterministic(tmp_path: Path) -> None:
    first = generate_plant(PlantConfig(out_dir=tmp_path / "a", days=3, machines=4))
    second = generate_plant(PlantConfig(out_dir=tmp_path / "b", days=3, machines=4))
    files = sorted(path.relative_to(first) for path in first.rglob("*.parquet"))
    assert len(files) == 3
    assert all((first / f).read_bytes() == (second / f).read_bytes() for f in files)


def test_the_repository_ships_the_domain_in_its_own_folders() -> None:
    domain = REPO_ROOT / "warehouse" / "models" / "domains" / "sensors"
    assert sorted(path.name for path in domain.rglob("*.sql")) == [
        "base_sensors__readings.sql",
        "feat_machine_failure.sql",
        "stg_sensors__readings.sql",
    ]
