"""Daily partitions where the data is daily: the landing zone's export days.

A partition is a landing (load) day, the `date=` folder a file arrived in, so a late file for an old
business day is picked up by the day it arrived. A range of days runs as one step (a single dbt
invocation, a single scoring pass): see `BackfillPolicy.single_run()` on the partitioned assets.
"""

from __future__ import annotations

import os
import warnings
from datetime import date, timedelta
from functools import cache

import dagster as dg

# The demo world starts here (`SIM_ARGS` in the Makefile); a real landing zone sets its own.
DEFAULT_FIRST_DAY = "2025-01-01"


@cache
def daily_partitions() -> dg.DailyPartitionsDefinition:
    """One partition per landing day, from FIRST_LANDING_DAY up to and including today (UTC)."""
    first = date.fromisoformat(os.environ.get("FIRST_LANDING_DAY", DEFAULT_FIRST_DAY))
    return dg.DailyPartitionsDefinition(start_date=first.isoformat(), end_offset=1, timezone="UTC")


SINGLE_RUN = dg.BackfillPolicy.single_run()
# `backfill_policy` is marked beta on `@asset`; it is the documented way to run a range in one step
warnings.filterwarnings("ignore", message=".*backfill_policy.*", category=dg.BetaWarning)


def partition_days(context: dg.AssetExecutionContext) -> tuple[date, date]:
    """The first and last landing day (inclusive) of the run's partition or partition range."""
    window = context.partition_time_window
    return window.start.date(), (window.end - timedelta(days=1)).date()


def range_tags(first: date, last: date) -> dict[str, str]:
    """Run tags that make one run cover every partition from `first` to `last`."""
    return {
        "dagster/asset_partition_range_start": first.isoformat(),
        "dagster/asset_partition_range_end": last.isoformat(),
    }
