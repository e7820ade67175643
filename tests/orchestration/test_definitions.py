"""The Definitions object: it loads fast, and the graph has the shape the product promises."""

from __future__ import annotations

import importlib
import itertools
import json
import subprocess
import sys

import dagster as dg
import pytest
import yaml

from orchestration.defs.domains import running_specs
from tests.conftest import REPO_ROOT


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    from orchestration.definitions import defs

    return defs


def test_workspace_points_at_loadable_definitions() -> None:
    workspace = yaml.safe_load((REPO_ROOT / "workspace.yaml").read_text())
    (target,) = workspace["load_from"]
    module = importlib.import_module(target["python_module"]["module_name"])
    assert isinstance(module.defs, dg.Definitions)


def test_loading_the_definitions_imports_no_heavy_run_time_library() -> None:
    # `dagster dev` loads the definitions on every reload: what they cost is measured by `make bench`
    # (as a ratio to importing dagster and dagster-dbt alone, docs/benchmarks.md); here, that the
    # heavy libraries the assets use at run time stay out of the load (a timed unit test failed on a
    # slower machine, issue 12).
    heavy = ("lightgbm", "sklearn", "polars", "lleaves", "matplotlib", "pyarrow", "psutil")
    code = (
        "import sys, orchestration.definitions as d; d.defs.resolve_asset_graph(); "
        f"print(' '.join(sorted(m for m in {heavy!r} if m in sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip().splitlines()[-1:] in ([], [""]), out.stdout


def test_every_dbt_node_and_every_spec_is_an_asset(defs: dg.Definitions) -> None:
    import json

    manifest = json.loads((REPO_ROOT / "warehouse/target/manifest.json").read_text())
    graph = defs.resolve_asset_graph()
    keys = graph.get_all_asset_keys()
    dbt_nodes = [n for n in manifest["nodes"].values() if n["resource_type"] in {"model", "seed", "snapshot"}]
    assert len([k for k in keys if graph.get(k).group_name not in {"ml", "publish", "sources"}]) == len(
        dbt_nodes
    )
    for spec in running_specs().values():
        assert dg.AssetKey(["ml", f"{spec.name}_model"]) in keys
        assert dg.AssetKey(spec.output.table.split(".")) in keys


def test_lineage_runs_from_staging_through_training_and_scoring_to_the_marts(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    path = [
        ["staging", "stg_payments__payments"],
        ["marts", "fct_payments"],
        ["features", "feat_payment_fraud"],
        ["ml", "payment_fraud_model"],
        ["ml", "payment_fraud_scores"],
        ["staging", "stg_ml__payment_fraud_scores"],
        ["marts", "fraud_review_queue"],
        ["publish", "analytics_duckdb"],
    ]
    for upstream, downstream in itertools.pairwise(path):
        ancestors = graph.upstream_key_iterator(dg.AssetKey(downstream))
        assert dg.AssetKey(upstream) in set(ancestors), (upstream, downstream)


def test_groups_checks_jobs_schedules_and_sensors(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    groups = {graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert {"sources", "staging", "features", "marts", "ml", "publish"} <= groups
    checks = {key.name for key in graph.asset_check_keys}
    assert {
        "promotion_gate",
        "score_sanity",
        "feature_drift",
        "prediction_drift",
        "matured_performance",
        "estimated_performance",
        "segment_disparity",
    } <= checks
    # every dbt data test is a check, except those that read a daily-partitioned model: they run in
    # the daily phase's `dbt build` and fail its step (orchestration/defs/dbt/assets.py)
    manifest = json.loads((REPO_ROOT / "warehouse" / "target" / "manifest.json").read_text())
    partitioned = {
        key.path[-1] for key in graph.get_all_asset_keys() if graph.get(key).partitions_def is not None
    }
    # (a switched-off domain's tests stay in the manifest, disabled: they are no checks)
    data_tests = [
        node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "test" and node["config"]["enabled"]
    ]
    expected = {
        node["name"]
        for node in data_tests
        if not any(dep.split(".")[-1] in partitioned for dep in node["depends_on"]["nodes"])
    }
    assert {"fct_payments", "feat_payment_fraud"} <= partitioned
    assert len(expected) > 150 and expected <= checks, sorted(expected - checks)[:5]
    jobs = {job.name for job in defs.jobs}
    assert jobs >= {
        "full_pipeline",
        "daily_refresh",
        "retraining",
        "retrain_payment_fraud",
        "retrain_daily_demand",
    }
    assert {s.cron_schedule for s in defs.schedules} == {"0 6 * * *", "0 3 * * 1"}
    assert [s.name for s in defs.sensors] == ["new_landing_day", "retrain_on_monitoring", "alerts"]
    # a model's retraining job rebuilds what depends on it, and nothing else
    fraud = defs.resolve_job_def("retrain_payment_fraud").asset_layer.selected_asset_keys
    assert {k.to_user_string() for k in fraud} == {
        "ml/payment_fraud_model",
        "ml/payment_fraud_scores",
        "ml/payment_fraud_monitoring",
        "staging/stg_ml__payment_fraud_scores",
        "marts/fraud_review_queue",
        "marts/fct_payment_outcomes",
        "publish/analytics_duckdb",
    }


def test_daily_data_is_partitioned_by_landing_day_and_a_range_runs_as_one_step(defs: dg.Definitions) -> None:
    graph = defs.resolve_asset_graph()
    partitioned = {key for key in graph.get_all_asset_keys() if graph.get(key).partitions_def is not None}
    landing = {key for key in graph.get_all_asset_keys() if key.path[0].startswith("landing_")}
    assert partitioned == landing | {
        dg.AssetKey(["marts", "fct_payments"]),
        dg.AssetKey(["features", "feat_payment_fraud"]),  # built from fct_payments in the daily phase
        dg.AssetKey(["ml", "payment_fraud_scores"]),
    }
    # the landing days present, registered as they arrive (orchestration/lib/partitions.py)
    assert {graph.get(key).partitions_def for key in partitioned} == {
        dg.DynamicPartitionsDefinition(name="landing_day")
    }
    for key in partitioned - landing:
        policy = graph.get(key).backfill_policy
        assert policy is not None and policy.max_partitions_per_run is None, key  # single run
    # the forecast is not daily data: it is scored for the horizon after the champion's cutoff
    assert graph.get(dg.AssetKey(["ml", "daily_demand_scores"])).partitions_def is None


@pytest.mark.parametrize("job_name", ["full_pipeline", "daily_refresh", "retraining"])
def test_every_job_scores_features_only_after_dbt_rebuilt_them(defs: dg.Definitions, job_name: str) -> None:
    """Step order in each job: the step that builds a model's features comes before its scoring step
    (a job without training must not score yesterday's features)."""
    from dagster._core.execution.api import create_execution_plan

    plan = create_execution_plan(defs.resolve_job_def(job_name), tags={"dagster/partition": "2025-06-01"})
    order = [step.key for level in plan.get_steps_to_execute_by_level() for step in level]
    step_of = {key: handle for handle in order for key in _asset_keys_of_step(plan, handle)}
    for spec in running_specs().values():
        features = dg.AssetKey(spec.features_relation.split("."))
        scores = dg.AssetKey(spec.output.table.split("."))
        assert scores in step_of, (job_name, scores)
        if features in step_of:  # retraining rescoring needs no rebuild of the features
            assert order.index(step_of[features]) < order.index(step_of[scores]), (job_name, spec.name)


def _asset_keys_of_step(plan, step_key: str) -> set[dg.AssetKey]:
    step = plan.get_step_by_key(step_key)
    return {
        output.properties.asset_key
        for output in step.step_outputs
        if output.properties is not None and output.properties.asset_key is not None
    }


def test_every_model_reading_the_landing_zone_waits_for_the_inventory(defs: dg.Definitions) -> None:
    from orchestration.lib.translator import INVENTORY_KEY

    graph = defs.resolve_asset_graph()
    base = [key for key in graph.get_all_asset_keys() if key.path[-1].startswith("base_")]
    assert len(base) == 10
    assert all(INVENTORY_KEY in graph.get(key).parent_keys for key in base)


def test_every_writing_asset_holds_the_warehouse_lock(defs: dg.Definitions) -> None:
    from orchestration.defs.lock import LOCK_KEY

    graph = defs.resolve_asset_graph()
    nodes = [graph.get(key) for key in graph.get_all_asset_keys()]
    writers = {node.assets_def for node in nodes if node.is_materializable}
    assert writers and all(LOCK_KEY in assets_def.required_resource_keys for assets_def in writers)


def test_the_dbt_steps_build_no_dbt_adapter_in_process() -> None:
    """dagster-dbt builds a dbt adapter before every invocation unless the resource says otherwise;
    the override must stay attached to the method dagster-dbt calls (an upgrade may rename it)."""
    import inspect

    from dagster_dbt import DbtCliResource

    from orchestration.defs.dbt.resources import WarehouseDbtCli, dbt_resource

    assert "self._initialize_dbt_core_adapter(" in inspect.getsource(DbtCliResource.cli)
    resource = dbt_resource()
    assert isinstance(resource, WarehouseDbtCli)
    assert resource._initialize_dbt_core_adapter(["build"]) is None
