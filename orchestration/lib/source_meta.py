"""What the dbt project's sources say about themselves, read from their `meta` in the manifest.

The source YAML is the one home of the landing contract: a landing table's system sets
`landing_format` (parquet or csv) and a table exported only when something happens sets
`landing_cadence: event_driven` (default daily). The ML layer's outputs are sources too, marked
`written_by: ml_layer`. The landing inventory, the Dagster source assets, their freshness checks
and the asset groups read these keys; nothing tests a schema or system name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

FORMATS = ("parquet", "csv")
CADENCES = ("daily", "event_driven")
ML_LAYER = "ml_layer"


class SourceMetaError(ValueError):
    """A source whose meta does not say what it is, or says it wrongly."""


def _meta(source: Mapping[str, Any]) -> Mapping[str, Any]:
    return source.get("meta") or {}


def _name(source: Mapping[str, Any]) -> str:
    return f"source {source['source_name']}.{source['name']}"


def is_landing(source: Mapping[str, Any]) -> bool:
    """A table the source systems export into the landing zone."""
    return "landing_format" in _meta(source)


def written_by_ml_layer(source: Mapping[str, Any]) -> bool:
    return _meta(source).get("written_by") == ML_LAYER


def landing_format(source: Mapping[str, Any]) -> str:
    value = _meta(source).get("landing_format")
    if value not in FORMATS:
        raise SourceMetaError(f"{_name(source)}: meta.landing_format must be one of {FORMATS}, got {value!r}")
    return value


def landing_cadence(source: Mapping[str, Any]) -> str:
    value = _meta(source).get("landing_cadence", "daily")
    if value not in CADENCES:
        raise SourceMetaError(
            f"{_name(source)}: meta.landing_cadence must be one of {CADENCES}, got {value!r}"
        )
    return value


def check_every_source(manifest: Mapping[str, Any]) -> None:
    """Every source is a landing table with a valid contract or an output of the ML layer."""
    for source in manifest["sources"].values():
        if is_landing(source) == written_by_ml_layer(source):
            raise SourceMetaError(
                f"{_name(source)}: meta must say either landing_format (a landing table) or "
                f"written_by: {ML_LAYER} (an output of the ML layer)"
            )
        if is_landing(source):
            landing_format(source)
            landing_cadence(source)
