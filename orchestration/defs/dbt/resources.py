"""The dbt project and CLI resource, built once and shared by assets, jobs and schedules."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
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


class WarehouseDbtCli(DbtCliResource):
    """dagster-dbt's CLI resource without the dbt adapter it builds in this process before every
    invocation (loading dbt's profile, project and the DuckDB adapter: 2.9 s for the first, about 1 s
    for each later one, measured here). The adapter serves only `fetch_row_counts()` and
    `fetch_column_metadata()`, which the dbt steps do not call: they count rows themselves once dbt
    has released the file (orchestration/defs/dbt/assets.py). dagster-dbt runs without an adapter
    when building one fails, so None is a state it handles."""

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:
        return None


def dbt_resource() -> DbtCliResource:
    # the dbt installed beside this interpreter (the project's venv), whatever PATH says
    executable = Path(sys.executable).with_name("dbt")
    return WarehouseDbtCli(
        project_dir=dbt_project(), profiles_dir=str(WAREHOUSE_DIR), dbt_executable=str(executable)
    )
