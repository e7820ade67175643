"""Freshness of the landing sources: every table's newest export day keeps up with the newest day
any system exported (a system that stopped exporting is stale). Measured against the data, not the
wall clock, so a historical demo world is fresh when it is complete."""

from datetime import date

import dagster as dg

from orchestration.lib.landing import newest_days

MAX_LAG_DAYS = 2
FRESHNESS_CHECK = "landing_freshness"  # a failure is a stale landing source (alerted though a warning)


def lag_days(newest: dict[tuple[str, str], date], table: tuple[str, str]) -> int | None:
    """Days the table's newest export trails the newest export of any system (None: never exported)."""
    if table not in newest:
        return None
    return (max(newest.values()) - newest[table]).days


def freshness_checks(specs: list[dg.AssetSpec]) -> dg.AssetChecksDefinition:
    # a table exported only when something happens (`landing_cadence: event_driven` in its source
    # YAML: launches, price changes, promotions) is not expected every day
    daily = {
        spec.key: (spec.key.path[0].removeprefix("landing_"), spec.key.path[1])
        for spec in specs
        if spec.metadata.get("landing_cadence") == "daily"
    }

    @dg.multi_asset_check(
        specs=[
            dg.AssetCheckSpec(
                FRESHNESS_CHECK,
                asset=key,
                description="newest export within 2 days of the newest of any system",
            )
            for key in daily
        ],
        name=FRESHNESS_CHECK,
    )
    def landing_freshness():
        newest = newest_days()
        for key, table in daily.items():
            lag = lag_days(newest, table)
            yield dg.AssetCheckResult(
                asset_key=key,
                check_name=FRESHNESS_CHECK,
                passed=lag is not None and lag <= MAX_LAG_DAYS,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"newest_day": str(newest.get(table)), "lag_days": -1 if lag is None else lag},
            )

    return landing_freshness
