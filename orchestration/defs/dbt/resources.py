"""The dbt project and CLI resource, built once and shared by assets, jobs and schedules."""

from __future__ import annotations

import json
import sys
from functools import cache
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject

from orchestration.lib.environment import WAREHOUSE_DIR


@cache
def dbt_project() -> DbtProject:
    # The manifest is prepared at build time (`make install` runs `dbt parse` whenever a dbt file
    # changed), so loading the definitions reads a file instead of parsing the project.
    project = DbtProject(project_dir=WAREHOUSE_DIR, profiles_dir=WAREHOUSE_DIR)
    if not project.manifest_path.exists():
        raise FileNotFoundError(
            f"{project.manifest_path} is missing: run `make install` (or `cd warehouse && dbt parse`)"
        )
    return project


@cache
def manifest() -> dict:
    return json.loads(dbt_project().manifest_path.read_text())


def dbt_resource() -> DbtCliResource:
    # the dbt installed beside this interpreter (the project's venv), whatever PATH says
    executable = Path(sys.executable).with_name("dbt")
    return DbtCliResource(
        project_dir=dbt_project(), profiles_dir=str(WAREHOUSE_DIR), dbt_executable=str(executable)
    )
