"""The one Dagster `Definitions` object that `workspace.yaml` loads: it only assembles."""

import dagster as dg

from orchestration.defs.alerts.sensors import alerts
from orchestration.defs.automation import (
    RETRAIN_JOBS,
    daily_refresh,
    daily_schedule,
    full_pipeline,
    new_landing_day,
    retrain_on_monitoring,
    retraining,
    weekly_retraining,
)
from orchestration.defs.dbt.assets import DBT_PHASES
from orchestration.defs.dbt.checks import freshness_checks
from orchestration.defs.dbt.resources import dbt_resource
from orchestration.defs.dbt.sources import landing_source_specs
from orchestration.defs.domains import running_specs
from orchestration.defs.landing.inventory import landing_inventory_asset
from orchestration.defs.lock import LOCK_KEY, WarehouseLock
from orchestration.defs.ml.assets import ml_assets, scores_key
from orchestration.defs.ml.monitoring import monitoring_assets, monitoring_key
from orchestration.defs.publish.assets import publish_asset
from orchestration.defs.settings import SETTINGS_KEY, WarehouseSettings

_sources = landing_source_specs()
_ml = ml_assets()
_monitoring = monitoring_assets()
_dbt = DBT_PHASES
_marts = sorted(key for dbt in _dbt for key in dbt.keys if key.path[0] == "marts")
_ml_outputs = [key for spec in running_specs().values() for key in (scores_key(spec), monitoring_key(spec))]

defs = dg.Definitions(
    assets=[
        *_sources,
        landing_inventory_asset(_sources),
        *_dbt,
        *_ml,
        *_monitoring,
        publish_asset([*_marts, *_ml_outputs]),
    ],
    asset_checks=[freshness_checks(_sources)],
    jobs=[full_pipeline, daily_refresh, retraining, *RETRAIN_JOBS],
    schedules=[daily_schedule, weekly_retraining],
    sensors=[new_landing_day, retrain_on_monitoring, alerts],
    resources={"dbt": dbt_resource(), LOCK_KEY: WarehouseLock(), SETTINGS_KEY: WarehouseSettings()},
    # Steps of any run, also an ad hoc materialization from the UI, go one after another in one
    # process: DuckDB allows one writer per file, and the run holds the warehouse lock throughout.
    executor=dg.in_process_executor,
)
