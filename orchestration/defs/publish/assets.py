"""The publish asset: runs only after everything upstream materialized and its blocking checks passed.

It is the last writer of every job, so it also keeps the build file compact once analysts have the
new snapshot (orchestration/lib/compaction.py)."""

import dagster as dg

from orchestration.defs.domains import dbt_environ
from orchestration.defs.lock import LOCK_KEY
from orchestration.defs.publish.publishing import publish
from orchestration.defs.settings import SETTINGS_KEY, WarehouseSettings
from orchestration.lib.compaction import compact_if_fragmented
from orchestration.lib.dbt_target import target_root
from orchestration.lib.engine import build_source
from orchestration.lib.markdown import markdown_table

PUBLISH_KEY = dg.AssetKey(["publish", "analytics_duckdb"])


def publish_asset(upstream: list[dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.asset(
        key=PUBLISH_KEY,
        deps=upstream,
        group_name="publish",
        kinds={"duckdb"},
        required_resource_keys={LOCK_KEY, SETTINGS_KEY},
        description="data/analytics.duckdb: the marts and ml schemas and the semantic layer's metric tables "
        "(schema metrics), replaced atomically for analysts; "
        "then the build file is rewritten if more than 25% of it is free space.",
    )
    def analytics_duckdb(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        settings: WarehouseSettings = context.resources.settings
        source = build_source(settings.paths, dbt_environ())  # Spark's tables, or the build file
        result = publish(settings.warehouse_db, settings.analytics_db, source, semantic_layer=target_root())
        context.log.info(f"published {len(result.tables)} tables to {result.path}")
        rows = [(table, f"{count:,}") for table, count in result.tables.items()]
        metadata = {
            "path": dg.MetadataValue.path(str(result.path)),
            "tables": dg.MetadataValue.md(markdown_table(("table", "rows"), rows, right=("rows",))),
            "dagster/row_count": sum(result.tables.values()),
        }
        if source is None:  # on Spark there is no build file to compact
            compaction = compact_if_fragmented(settings.warehouse_db)
            context.log.info(f"build file {compaction.path.name}: compaction {compaction.note}")
            metadata["build_file_mib"] = round(compaction.bytes_after / 2**20, 1)
            metadata["build_file_compaction"] = compaction.note
        return dg.MaterializeResult(metadata=metadata)

    return analytics_duckdb
