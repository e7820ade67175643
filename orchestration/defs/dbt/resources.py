"""The dbt project and CLI resource, built once and shared by assets, jobs and schedules."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache, cached_property
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from dagster_dbt import DbtCliInvocation, DbtCliResource, DbtProject
from dagster_dbt.core import dbt_cli_invocation
from packaging.version import Version

from orchestration.lib.dbt_in_process import InProcessDbt
from orchestration.lib.dbt_target import target_root
from orchestration.lib.environment import WAREHOUSE_DIR


@cache
def dbt_project() -> DbtProject:
    # The manifest is prepared at build time (`make install` runs `dbt parse` whenever a dbt file
    # changed), so loading the definitions reads a file instead of parsing the project.
    # The manifest is dbt's target path's (DBT_TARGET_PATH, as dbt itself reads it; default target).
    project = DbtProject(project_dir=WAREHOUSE_DIR, profiles_dir=WAREHOUSE_DIR, target_path=target_root())
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

    def cli(self, args: Sequence[str], **kwargs: Any) -> DbtCliInvocation:
        """dagster-dbt's invocation, with dbt run in this process instead of a dbt process
        (orchestration/lib/dbt_in_process.py): dagster-dbt creates the process through its module's
        `subprocess.Popen`, which is swapped for `InProcessDbt` while the invocation is set up. dbt
        starts once dagster-dbt has left the project folder it `pushd`s into meanwhile."""
        with in_process_dbt() as created:
            invocation = super().cli(args, **kwargs)
        for process in created:
            process.start()
        return invocation

    @cached_property
    def _cli_version(self) -> Version:
        """dagster-dbt asks `dbt --version` once per run to learn which dbt it drives: a dbt process
        (2.5-3 s here, before the first dbt step). The executable is the dbt beside this interpreter
        (`dbt_resource`), so its version is the installed dbt-core's."""
        return Version(metadata.version("dbt-core"))


# dbt's own log file at `warn` instead of `debug`: writing every statement and connection event to
# dbt.log cost 1.6-1.9 s of a 13-16 s `dbt build --selector before_ml` (measured from the terminal,
# alternating). Warnings and errors still reach the file, and every node's result reaches the
# step's log through dbt's structured output as before.
DBT_FLAGS = ["--log-level-file", "warn"]


@contextmanager
def in_process_dbt() -> Iterator[list[InProcessDbt]]:
    """dagster-dbt's `subprocess.Popen`, and only its, creates an `InProcessDbt` inside this block,
    not started yet; the block's value lists them, for the caller to start."""
    module = dbt_cli_invocation.subprocess
    created: list[InProcessDbt] = []

    def popen(*args: Any, **kwargs: Any) -> InProcessDbt:
        created.append(InProcessDbt(*args, **kwargs, start=False))
        return created[-1]

    dbt_cli_invocation.subprocess = SimpleNamespace(
        Popen=popen, PIPE=subprocess.PIPE, STDOUT=subprocess.STDOUT
    )
    try:
        yield created
    finally:
        dbt_cli_invocation.subprocess = module


def dbt_resource() -> DbtCliResource:
    # the dbt installed beside this interpreter (the project's venv), whatever PATH says
    executable = Path(sys.executable).with_name("dbt")
    return WarehouseDbtCli(
        project_dir=dbt_project(),
        profiles_dir=str(WAREHOUSE_DIR),
        dbt_executable=str(executable),
        global_config_flags=DBT_FLAGS,
    )
