"""The domains the asset graph runs: retail and every domain the dbt manifest was parsed with
(`make` parses it with the domains switched on that have landing data: ml/domains.py). The graph,
the ML specs it generates assets for and every dbt invocation of a run agree on this one set."""

from __future__ import annotations

from functools import cache

from ml.settings import DOMAINS_VARIABLE, RETAIL, settings
from ml.specs import ModelSpec, load_specs, specs_of
from orchestration.defs.dbt.resources import manifest
from orchestration.lib.engine import dbt_target_environ

DOMAINS_FOLDER = "domains"  # warehouse/models/domains/<name>/


def domain_of(fqn: list[str]) -> str:
    """The domain of a dbt node from its fully qualified name (project, folders..., name)."""
    return fqn[2] if len(fqn) > 3 and fqn[1] == DOMAINS_FOLDER else RETAIL


@cache
def running_domains() -> tuple[str, ...]:
    nodes = [*manifest()["nodes"].values(), *manifest()["sources"].values()]
    # a switched-off domain's tests stay in the manifest's nodes, disabled
    enabled = [node for node in nodes if node.get("config", {}).get("enabled", True)]
    others = sorted({domain_of(node["fqn"]) for node in enabled} - {RETAIL})
    return (RETAIL, *others)


def dbt_environ() -> dict[str, str]:
    """What dbt must see to parse the project as the manifest was parsed, on the engine's target."""
    return {DOMAINS_VARIABLE: ",".join(running_domains()), **dbt_target_environ(settings())}


def running_specs() -> dict[str, ModelSpec]:
    """The specs of the running domains, by name."""
    return specs_of(load_specs(), running_domains())
