"""Every dbt seed, snapshot and model as assets; every dbt test as an asset check.

dbt runs as a subprocess that holds the DuckDB write lock while it works, so nothing in this
process opens the file during the build (no row-count queries alongside it).
"""

# no `from __future__ import annotations`: Dagster checks the context annotation at runtime
from dagster import AssetExecutionContext
from dagster_dbt import DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from orchestration.defs.dbt.resources import dbt_project
from orchestration.lib.translator import WarehouseTranslator

TRANSLATOR = WarehouseTranslator(DagsterDbtTranslatorSettings(enable_asset_checks=True))


@dbt_assets(manifest=dbt_project().manifest_path, dagster_dbt_translator=TRANSLATOR, name="warehouse_dbt")
def warehouse_dbt_assets(context: AssetExecutionContext, dbt: DbtCliResource):
    yield from dbt.cli(["build"], context=context).stream()
