"""The three dbt phases of warehouse/selectors.yml, as dbt itself resolves them: every node and every
data test belongs to exactly one phase, and a test runs no earlier than every table it reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ml.domains import available
from tests.conftest import WAREHOUSE_DIR

PHASES = ("before_ml", "daily", "after_scores")
BUILT = ("model", "seed", "snapshot", "test")  # what `dbt build` runs (not sources or exposures)


@pytest.fixture(scope="module")
def resolved(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict[str, set[str]]]:
    """The parsed manifest's nodes and each phase's unique ids (`dbt ls --selector`)."""
    from dbt.cli.main import dbtRunner

    work = tmp_path_factory.mktemp("selectors")
    flags = ["--project-dir", str(WAREHOUSE_DIR), "--profiles-dir", str(WAREHOUSE_DIR)]
    flags += ["--target-path", str(work / "target"), "--log-path", str(work / "logs"), "--quiet"]
    with pytest.MonkeyPatch.context() as env:
        env.setenv("WAREHOUSE_DB", str(work / "never-opened.duckdb"))
        env.setenv("WAREHOUSE_DOMAINS", ",".join(available()))  # every domain's nodes, placed too
        parsed = dbtRunner().invoke(["parse", *flags])
        assert parsed.success, parsed.exception
        manifest = parsed.result
        runner = dbtRunner(manifest=manifest)
        phases = {}
        for phase in PHASES:
            listed = runner.invoke(
                ["ls", "--selector", phase, "--output", "json", "--output-keys", "unique_id", *flags]
            )
            assert listed.success, listed.exception
            listed_ids = {json.loads(line)["unique_id"] for line in listed.result}
            phases[phase] = {uid for uid in listed_ids if uid.split(".")[0] in BUILT}
    assert not Path(work / "never-opened.duckdb").exists()
    return manifest.nodes, phases


def test_every_node_and_every_test_is_in_exactly_one_phase(resolved) -> None:
    nodes, phases = resolved
    # a switched-off domain's tests stay among the nodes, disabled: they never run
    buildable = {
        uid
        for uid, node in nodes.items()
        if node.resource_type in ("model", "seed", "snapshot", "test") and node.config.enabled
    }
    placed = [uid for members in phases.values() for uid in members]
    assert sorted(placed) == sorted(set(placed)), "a node is in two phases"
    assert set(placed) == buildable, sorted(buildable ^ set(placed))


def test_a_test_runs_once_every_table_it_reads_is_built(resolved) -> None:
    nodes, phases = resolved
    phase_of = {uid: PHASES.index(phase) for phase, members in phases.items() for uid in members}
    for uid in phases["before_ml"] | phases["daily"] | phases["after_scores"]:
        if not uid.startswith("test."):
            continue
        parents = [p for p in nodes[uid].depends_on.nodes if p in phase_of]
        assert all(phase_of[p] <= phase_of[uid] for p in parents), (uid, parents)
        # and not later than needed: in the phase of its latest parent
        assert phase_of[uid] == max(phase_of[p] for p in parents), (uid, parents)


def test_the_last_phase_is_what_reads_the_scores(resolved) -> None:
    nodes, phases = resolved
    readers = {
        uid
        for uid, node in nodes.items()
        if node.resource_type == "model"
        and any(p.startswith("source.warehouse.ml.") for p in node.depends_on.nodes)
    }
    models = {uid for uid in phases["after_scores"] if uid.startswith("model.")}
    assert readers and readers <= models
    assert {uid for uid in phases["daily"] if uid.startswith("model.")} >= {
        uid for uid, node in nodes.items() if "daily" in node.tags
    }
