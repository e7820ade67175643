"""The one dbt translator: asset keys and groups derive from where a table lands.

One naming rule for SQL and Python tables: the key is [schema, table]. A dbt source in the `ml`
schema therefore has the same key as the Python asset that writes it, so training and scoring sit
upstream of the marts that read their output. Groups come from the dbt folder (`staging/...` ->
`staging`; a domain beside retail, `domains/<name>/...`, is the group `<name>`); per-model
exceptions belong in the model's YAML `meta: {dagster: ...}`, not here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator

from orchestration.lib.source_meta import is_landing, written_by_ml_layer

GROUP_BY_FOLDER = {
    "staging": "staging",
    "intermediate": "intermediate",
    "features": "features",
    "marts": "marts",
    "audit": "audit",
}
SOURCE_GROUP = "sources"
ML_GROUP = "ml"
# The Python step that checks every landing file before dbt reads any (orchestration/defs/landing).
INVENTORY_KEY = dg.AssetKey(["audit", "landing_inventory"])


def table_key(schema: str, table: str) -> dg.AssetKey:
    return dg.AssetKey([schema, table])


def _schema_and_table(props: Mapping[str, Any]) -> tuple[str, str]:
    table = props.get("alias") or props.get("identifier") or props["name"]
    return props["schema"], table


def _group(props: Mapping[str, Any]) -> str:
    if props["resource_type"] == "source":
        return ML_GROUP if written_by_ml_layer(props) else SOURCE_GROUP
    if props["resource_type"] == "seed":
        return "reference"
    if props["resource_type"] == "snapshot":
        return "snapshots"
    fqn = props.get("fqn", ["", ""])
    if fqn[1] == "domains":  # a domain beside retail is one group: warehouse/models/domains/<name>/
        return fqn[2]
    return GROUP_BY_FOLDER.get(fqn[1], "marts")


class WarehouseTranslator(DagsterDbtTranslator):
    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        schema, table = _schema_and_table(props)
        spec = spec.replace_attributes(key=table_key(schema, table), group_name=_group(props))
        if _reads_landing(manifest, props):
            spec = spec.merge_attributes(deps=[INVENTORY_KEY])
        return spec


def _reads_landing(manifest: Mapping[str, Any], props: Mapping[str, Any]) -> bool:
    """A model reading a landing source (not one of the ML layer's) waits for the landing inventory."""
    sources = [n for n in props.get("depends_on", {}).get("nodes", []) if n.startswith("source.")]
    return any(is_landing(manifest["sources"][node]) for node in sources)
