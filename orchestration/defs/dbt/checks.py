"""Freshness of the landing sources: every table's newest export day keeps up with the newest day
any system exported (a system that stopped exporting is stale). Measured against the data, not the
wall clock, so a historical demo world is fresh when it is complete."""

import re
from datetime import date

import dagster as dg

from orchestration.lib.environment import landing_dir

MAX_LAG_DAYS = 2
PARTITION = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")
# tables exported only when something happens (launches, price changes, promotions) are not daily
EVENT_DRIVEN = {("catalog", "products"), ("catalog", "product_prices"), ("marketing", "promotions")}


def newest_days() -> dict[tuple[str, str], date]:
    newest: dict[tuple[str, str], date] = {}
    for folder in landing_dir().glob("*/*/date=*"):
        match = PARTITION.match(folder.name)
        if match:
            table = (folder.parent.parent.name, folder.parent.name)
            day = date.fromisoformat(match.group(1))
            newest[table] = max(newest.get(table, day), day)
    return newest


def freshness_checks(specs: list[dg.AssetSpec]) -> dg.AssetChecksDefinition:
    daily = {
        spec.key: (spec.key.path[0].removeprefix("landing_"), spec.key.path[1])
        for spec in specs
        if (spec.key.path[0].removeprefix("landing_"), spec.key.path[1]) not in EVENT_DRIVEN
    }

    @dg.multi_asset_check(
        specs=[
            dg.AssetCheckSpec(
                "landing_freshness",
                asset=key,
                description="newest export within 2 days of the newest of any system",
            )
            for key in daily
        ],
        name="landing_freshness",
    )
    def landing_freshness():
        newest = newest_days()
        overall = max(newest.values()) if newest else None
        for key, table in daily.items():
            day = newest.get(table)
            lag = None if day is None or overall is None else (overall - day).days
            yield dg.AssetCheckResult(
                asset_key=key,
                check_name="landing_freshness",
                passed=lag is not None and lag <= MAX_LAG_DAYS,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"newest_day": str(day), "newest_any_system": str(overall), "lag_days": lag or 0},
            )

    return landing_freshness
