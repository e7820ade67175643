"""The online fraud scoring API: `create_app(ServingSettings.from_env())`, run by
`python -m serving` (`make serve`). See README.md, "Online scoring API"."""

from serving.app import create_app
from serving.settings import ServingSettings

__all__ = ["ServingSettings", "create_app"]
