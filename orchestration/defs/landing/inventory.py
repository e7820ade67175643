"""The landing inventory as the first step of every run: dbt reads only files that passed it.

A structural break fails this step (and so everything downstream, publishing included) with the
file and the column named; unreadable files are moved to the rejected zone and listed.
"""

import dagster as dg

from orchestration.defs.dbt.resources import manifest
from orchestration.defs.lock import LOCK_KEY
from orchestration.lib.markdown import markdown_table
from orchestration.lib.translator import INVENTORY_KEY


def landing_inventory_asset(sources: list[dg.AssetSpec]) -> dg.AssetsDefinition:
    @dg.asset(
        key=INVENTORY_KEY,
        deps=[spec.key for spec in sources],
        group_name="sources",
        kinds={"python", "parquet"},
        required_resource_keys={LOCK_KEY},
        description="Every landing file checked against its table's contract before dbt reads it.",
    )
    def landing_inventory(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        # pyarrow (and numpy) load with the step, not with the definitions: every `dagster dev`
        # reload pays the definitions' imports
        from orchestration.lib.landing_inventory import cache_path, contract_from_manifest, take_inventory

        inventory = take_inventory(contract_from_manifest(manifest()), cache=cache_path())
        for item in inventory.rejected:
            context.log.warning(f"rejected {item.landing_file}: {item.reason} ({item.detail})")
        for path, extra in inventory.extra_columns.items():
            context.log.warning(f"extra columns tolerated in {path}: {', '.join(extra)}")
        rejected = [(str(r.landing_file), r.reason, r.detail) for r in inventory.rejected]
        extra = [(path, ", ".join(columns)) for path, columns in inventory.extra_columns.items()]
        return dg.MaterializeResult(
            metadata={
                "files_on_contract": len(inventory.checked),
                "rows_on_contract": sum(f.rows for f in inventory.checked),
                "files_rejected_now": len(inventory.rejected),
                "rejected": dg.MetadataValue.md(markdown_table(("file", "reason", "detail"), rejected)),
                "extra_columns": dg.MetadataValue.md(markdown_table(("file", "columns"), extra)),
            }
        )

    return landing_inventory
