"""The landing-zone tables as external assets (group `sources`), partitioned by landing day, their
kind the landing format their source YAML declares; the ML layer's sources (`written_by:
ml_layer`) are owned by the Python scoring assets, which carry the same keys."""

import dagster as dg

from orchestration.defs.dbt.assets import TRANSLATOR
from orchestration.defs.dbt.resources import dbt_project, manifest
from orchestration.lib.partitions import LANDING_DAYS
from orchestration.lib.source_meta import check_every_source, is_landing, landing_cadence, landing_format


def landing_source_specs() -> list[dg.AssetSpec]:
    project, parsed = dbt_project(), manifest()
    specs = []
    check_every_source(parsed)
    for unique_id, source in sorted(parsed["sources"].items()):
        if is_landing(source):
            spec = TRANSLATOR.get_asset_spec(parsed, unique_id, project)
            specs.append(
                spec.replace_attributes(
                    kinds={landing_format(source)},
                    partitions_def=LANDING_DAYS,
                    metadata={**spec.metadata, "landing_cadence": landing_cadence(source)},
                )
            )
    return specs
