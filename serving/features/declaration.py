"""The fraud model's trailing-window features as declared once in warehouse/dbt_project.yml
(`vars.payment_fraud_windows`): dbt renders them into feat_payment_fraud (macro
payment_fraud_window_columns) and the online feature store computes them from this parse."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from ml.settings import REPO_ROOT
from serving.features.errors import FeatureDeclarationError

VAR_NAME = "payment_fraud_windows"
ENTITIES = ("card_fingerprint", "device_id", "customer_id")
# the column each aggregate may take (None: no column)
AGGREGATE_COLUMNS: dict[str, tuple[str | None, ...]] = {
    "count": (None,),
    "count_declined": (None,),
    "sum": ("amount_usd",),
    "avg": ("amount_usd",),
    "count_distinct": ("card_fingerprint", "customer_id", "device_id"),
}
MICROS = {"hour": 3_600_000_000, "day": 86_400_000_000}
_WINDOW = re.compile(r"^([1-9][0-9]*) (hour|day)$")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_KEYS = {"name", "entity", "window", "aggregate", "column", "include_current"}


@dataclass(frozen=True)
class WindowFeature:
    """One trailing-window aggregate over the payments of the same entity, as of a payment: those
    with paid_at in [paid_at - window, paid_at] (peers at the same paid_at included), or in
    [paid_at - window, paid_at) when include_current is false. Null when the entity is null."""

    name: str
    entity: str
    window: str  # as declared ("1 hour", "7 day"): dbt renders it as `interval <window>`
    window_us: int
    aggregate: str
    column: str | None
    include_current: bool


def dbt_project_path() -> Path:
    return REPO_ROOT / "warehouse" / "dbt_project.yml"


def load_window_features(path: Path | None = None) -> tuple[WindowFeature, ...]:
    """The declared windows, in declaration order (the feature table's column order)."""
    path = path or dbt_project_path()
    try:
        project = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise FeatureDeclarationError(f"{path}: cannot read the dbt project: {exc}") from exc
    variables = project.get("vars") if isinstance(project, dict) else None
    if not isinstance(variables, dict) or VAR_NAME not in variables:
        raise FeatureDeclarationError(f"{path}: vars.{VAR_NAME} is missing")
    return parse_window_features(variables[VAR_NAME], str(path))


def parse_window_features(data: object, source: str) -> tuple[WindowFeature, ...]:
    if not isinstance(data, list) or not data:
        raise FeatureDeclarationError(
            f"{source}: vars.{VAR_NAME} must be a non-empty list of windows, got {data!r}"
        )
    features = tuple(_parse_entry(entry, f"{source}: vars.{VAR_NAME}[{i}]") for i, entry in enumerate(data))
    seen: set[str] = set()
    for feature in features:
        if feature.name in seen:
            raise FeatureDeclarationError(
                f"{source}: vars.{VAR_NAME}: name {feature.name!r} is declared twice"
            )
        seen.add(feature.name)
    return features


def _parse_entry(entry: object, where: str) -> WindowFeature:
    if not isinstance(entry, dict):
        raise FeatureDeclarationError(f"{where}: must be a mapping, got {entry!r}")
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        raise FeatureDeclarationError(f"{where}: unknown keys {unknown} (allowed: {sorted(_KEYS)})")

    def check(key: str, ok: bool, expected: str) -> None:
        if not ok:
            raise FeatureDeclarationError(f"{where}.{key}: must be {expected}, got {entry.get(key)!r}")

    name, entity, window = entry.get("name"), entry.get("entity"), entry.get("window")
    aggregate, column = entry.get("aggregate"), entry.get("column")
    include_current = entry.get("include_current", True)
    check("name", isinstance(name, str) and bool(_NAME.match(name)), "a lowercase identifier")
    check("entity", entity in ENTITIES, f"one of {list(ENTITIES)}")
    match = _WINDOW.match(window) if isinstance(window, str) else None
    check("window", match is not None, "'<n> hour' or '<n> day'")
    check(
        "aggregate",
        isinstance(aggregate, str) and aggregate in AGGREGATE_COLUMNS,
        f"one of {list(AGGREGATE_COLUMNS)}",
    )
    allowed = AGGREGATE_COLUMNS[aggregate]
    check(
        "column",
        column in allowed,
        f"absent for {aggregate}" if allowed == (None,) else f"one of {list(allowed)} for {aggregate}",
    )
    check("include_current", isinstance(include_current, bool), "true or false")
    assert match is not None
    return WindowFeature(
        name=name,
        entity=entity,
        window=window,
        window_us=int(match.group(1)) * MICROS[match.group(2)],
        aggregate=aggregate,
        column=column,
        include_current=include_current,
    )
