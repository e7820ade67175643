"""The warehouse's settings as a Dagster resource: the paths of ml/settings.py, read from the
environment once when a run starts and handed to every asset that reads or writes them, which pass
them on to ml/ as arguments. No asset reads a path variable itself."""

from pathlib import Path

import dagster as dg
from pydantic import PrivateAttr

from ml.settings import Settings

SETTINGS_KEY = "settings"


class WarehouseSettings(dg.ConfigurableResource):
    _settings: Settings | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._settings = Settings.from_environ().resolved()

    @property
    def paths(self) -> Settings:
        if self._settings is None:  # used outside a run (a direct call in a test): read it now
            self._settings = Settings.from_environ().resolved()
        return self._settings

    @property
    def warehouse_db(self) -> Path:
        return self.paths.warehouse_db

    @property
    def analytics_db(self) -> Path:
        return self.paths.analytics_db

    @property
    def models_dir(self) -> Path:
        return self.paths.models_dir

    @property
    def dask_scheduler(self) -> str | None:
        return self.paths.dask_scheduler
