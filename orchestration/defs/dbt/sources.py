"""The landing-zone tables as external assets (group `sources`), partitioned by landing day; the `ml`
sources are owned by the Python scoring assets, which carry the same keys."""

import dagster as dg

from orchestration.defs.dbt.assets import TRANSLATOR
from orchestration.defs.dbt.resources import dbt_project, manifest
from orchestration.lib.partitions import LANDING_DAYS


def landing_source_specs() -> list[dg.AssetSpec]:
    project, parsed = dbt_project(), manifest()
    specs = []
    for unique_id, source in sorted(parsed["sources"].items()):
        if source["schema"] != "ml":
            spec = TRANSLATOR.get_asset_spec(parsed, unique_id, project)
            specs.append(
                spec.replace_attributes(
                    kinds={"parquet" if source["source_name"] != "disputes" else "csv"},
                    partitions_def=LANDING_DAYS,
                )
            )
    return specs
