"""The online fraud scoring API: `create_app(ServingSettings.from_env())`, run by
`python -m ml.serving` (`make serve`). See README.md, "Online scoring API"."""

from ml.serving.app import create_app
from ml.serving.settings import ServingSettings

__all__ = ["ServingSettings", "create_app"]
