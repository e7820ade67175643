"""dbt run inside the run's process: the same command line, log lines and exit codes as a dbt
process, the parsed project reused while it is current, and the process left as it was."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dagster_dbt.core import dbt_cli_invocation

import orchestration.lib.dbt_in_process as in_process
from orchestration.defs.dbt.resources import DBT_FLAGS, WarehouseDbtCli, dbt_resource, in_process_dbt
from orchestration.lib.dbt_in_process import InProcessDbt, project_state
from orchestration.lib.environment import REPO_ROOT, WAREHOUSE_DIR


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the dbt project (and the seeds beside it), so a test can change its files."""
    copy = tmp_path / "warehouse"
    shutil.copytree(WAREHOUSE_DIR, copy, ignore=shutil.ignore_patterns("target", "logs", ".*"))
    shutil.copytree(REPO_ROOT / "seeds", tmp_path / "seeds")
    return copy


def dbt_env(project: Path, target: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DBT_PROJECT_DIR": str(project),
        "DBT_PROFILES_DIR": str(WAREHOUSE_DIR),
        "DBT_TARGET_PATH": str(target),
        "DBT_LOG_PATH": str(target),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def run(project: Path, target: Path, *args: str) -> tuple[int | None, list[dict]]:
    process = InProcessDbt(["dbt", *DBT_FLAGS, *args], env=dbt_env(project, target), cwd=project)
    with process.stdout:
        lines = [json.loads(line) for line in process.stdout]
    return process.wait(), lines


def test_a_command_prints_what_a_dbt_process_prints(project: Path, tmp_path: Path) -> None:
    cwd, environ = os.getcwd(), dict(os.environ)
    code, lines = run(
        project, tmp_path / "target", "ls", "--select", "stg_payments__payments", "--output", "name"
    )
    assert code == 0
    assert {line["info"]["level"] for line in lines} <= {"info", "warn", "error"}
    assert "stg_payments__payments" in [line["info"]["msg"] for line in lines]
    # the process is as it was: working folder and environment
    assert os.getcwd() == cwd and dict(os.environ) == environ


def test_a_failing_command_exits_as_dbt_does(project: Path, tmp_path: Path) -> None:
    code, lines = run(project, tmp_path / "target", "ls", "--selector", "no_such_selector")
    assert code == 2
    assert any(
        line["info"]["level"] == "error" and "no_such_selector" in line["info"]["msg"] for line in lines
    )


def test_the_database_is_released_when_dbt_ends(project: Path, tmp_path: Path) -> None:
    """As a dbt process exiting would: the run opens the file read-only right after a dbt step."""
    database = tmp_path / "warehouse.duckdb"
    env = dbt_env(project, tmp_path / "target") | {"WAREHOUSE_DB": str(database)}
    process = InProcessDbt(["dbt", "show", "--inline", "select 42 as answer"], env=env, cwd=project)
    with process.stdout:
        lines = [json.loads(line) for line in process.stdout]
    assert process.wait() == 0
    assert any("42" in line["info"]["msg"] for line in lines)
    with duckdb.connect(str(database), read_only=True) as con:
        assert con.execute("select 1").fetchone() == (1,)


def test_the_parsed_project_is_reused_until_a_file_or_setting_changes(project: Path, tmp_path: Path) -> None:
    run(project, tmp_path / "first", "ls", "--select", "stg_payments__payments")
    parsed = in_process._manifest
    assert parsed is not None
    # another invocation of the run: another target folder, the daily phase's days
    env = dbt_env(project, tmp_path / "second")
    process = InProcessDbt(
        ["dbt", "ls", "--select", "stg_payments__payments"], env=env | {"LANDING_DAY_FROM": "2026-01-01"}
    )
    process.wait()
    assert in_process._manifest is parsed

    model = project / "models" / "marts" / "finance" / "fct_payments.sql"
    model.write_text(model.read_text() + "\n")
    run(project, tmp_path / "third", "ls", "--select", "stg_payments__payments")
    assert in_process._manifest is not None and in_process._manifest[1] is not parsed[1]


def test_the_state_follows_files_and_settings_but_not_the_landing_days(project: Path) -> None:
    env = {"LANDING_DIR": "/landing", "PATH": "/bin"}
    state = project_state(project, env)
    assert project_state(project, env | {"LANDING_DAY_FROM": "2026-03-01", "DBT_TARGET_PATH": "/t"}) == state
    assert project_state(project, env | {"LANDING_DIR": "/elsewhere"}) != state
    (project / "models" / "new_model.sql").write_text("select 1 as one\n")
    assert project_state(project, env) != state
    state = project_state(project, env)
    (project.parent / "seeds" / "new_seed.csv").write_text("one\n1\n")  # seed-paths: ../seeds
    assert project_state(project, env) != state
    (project / "target").mkdir()
    (project / "target" / "run_results.json").write_text("{}")  # dbt's output is not an input
    assert project_state(project, env) == project_state(project, env)


def test_dagster_dbt_starts_dbt_in_this_process_and_only_inside_the_block(tmp_path: Path) -> None:
    """Guards the seam: dagster-dbt starts dbt through its module's `subprocess.Popen`."""
    module = dbt_cli_invocation.subprocess
    invocation = dbt_resource().cli(
        ["ls", "--select", "stg_payments__payments"], target_path=tmp_path / "target"
    )
    assert isinstance(invocation.process, InProcessDbt)
    assert invocation.wait().is_successful()
    assert dbt_cli_invocation.subprocess is module
    with in_process_dbt() as created:
        assert dbt_cli_invocation.subprocess is not module
    assert dbt_cli_invocation.subprocess is module
    assert created == []


def test_dbt_works_in_the_project_folder_whatever_the_callers(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative path in the profile resolves from the project folder, as in a dbt process started
    there. dagster-dbt creates the process inside a `pushd` of that folder and leaves it at once,
    which moved a dbt thread already started back to the caller's folder: `python -m
    orchestration.run` without the Makefile's absolute WAREHOUSE_DB failed to open ../data."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("WAREHOUSE_DB", "probe.duckdb")
    # dagster-dbt stays in the project folder for a moment after creating the process, so a dbt
    # thread started at creation would be in that folder before dagster-dbt leaves it
    created = dbt_cli_invocation.DbtCliInvocation.run

    def run_then_linger(cls: type, *args: Any, **kwargs: Any) -> Any:
        invocation = created(*args, **kwargs)
        time.sleep(1)
        return invocation

    monkeypatch.setattr(dbt_cli_invocation.DbtCliInvocation, "run", classmethod(run_then_linger))
    resource = WarehouseDbtCli(
        project_dir=str(project),
        profiles_dir=str(project),
        dbt_executable=str(Path(sys.executable).with_name("dbt")),
        global_config_flags=DBT_FLAGS,
    )
    invocation = resource.cli(["show", "--inline", "select 42 as answer"], target_path=tmp_path / "target")
    assert invocation.wait().is_successful()
    assert (project / "probe.duckdb").is_file()
    assert not (elsewhere / "probe.duckdb").exists()
    assert Path.cwd() == elsewhere
