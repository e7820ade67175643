"""The workspace file points at a Definitions object that loads."""

from __future__ import annotations

import importlib

import dagster as dg
import yaml

from tests.conftest import REPO_ROOT


def test_workspace_points_at_loadable_definitions() -> None:
    workspace = yaml.safe_load((REPO_ROOT / "workspace.yaml").read_text())
    (target,) = workspace["load_from"]
    module = importlib.import_module(target["python_module"]["module_name"])
    assert isinstance(module.defs, dg.Definitions)
