"""Partitions where the data is daily: the landing days present in the landing zone.

A partition is a landing (load) day, the `date=` folder a file arrived in, so a late file for an old
business day is picked up by the day it arrived. A range of days runs as one step (a single dbt
invocation, a single scoring pass): see `BackfillPolicy.single_run()` on the partitioned assets.

The partitions are dynamic: a day exists once its folder has arrived and has been registered (by
`make run`, the landing sensor or a schedule; `python -m orchestration.lib.landing` by hand), not
from a calendar start date. A calendar (`DailyPartitionsDefinition`) would also make Dagster 1.13
store every check of every unpartitioned asset once per day of a range run as a `PLANNED` row that
never resolves: with a time-window definition the run keeps its whole partition subset, and the
planned checks of unpartitioned assets inherit it (about 100,000 rows, 200 MB, per `make run`). A
dynamic definition's range is kept as tags, and unpartitioned checks get one row.

Dynamic partition keys are ordered as they were added, and a range run covers the keys between its
ends in that order, so days are always registered in date order (a day older than the newest one
registered rebuilds the order).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from datetime import date

import dagster as dg

LANDING_DAYS = dg.DynamicPartitionsDefinition(name="landing_day")

SINGLE_RUN = dg.BackfillPolicy.single_run()
# A run with this tag set to "true" rebuilds the incremental dbt models from scratch (`dbt build
# --full-refresh` in every dbt step): `python -m orchestration.run --full-refresh`, or the tag on a
# run launched from the UI.
FULL_REFRESH_TAG = "warehouse/full_refresh"
# `backfill_policy` is marked beta on `@asset`; it is the documented way to run a range in one step
warnings.filterwarnings("ignore", message=".*backfill_policy.*", category=dg.BetaWarning)


def register_landing_days(instance: dg.DagsterInstance, days: Iterable[date]) -> list[str]:
    """Add the days not registered yet, keeping every key in date order; returns the added keys."""
    registered = instance.get_dynamic_partitions(LANDING_DAYS.name)
    wanted = sorted({day.isoformat() for day in days} - set(registered))
    if not wanted:
        return []
    if registered and (wanted[0] < registered[-1] or registered != sorted(registered)):
        # an older day arrived late: re-add every key in order (materializations are kept by key)
        for key in registered:
            instance.delete_dynamic_partition(LANDING_DAYS.name, key)
        instance.add_dynamic_partitions(LANDING_DAYS.name, sorted({*registered, *wanted}))
    else:
        instance.add_dynamic_partitions(LANDING_DAYS.name, wanted)
    return wanted


def partition_days(context: dg.AssetExecutionContext) -> tuple[date, date]:
    """The first and last landing day (inclusive) of the run's partition or partition range."""
    keys = context.partition_key_range
    return date.fromisoformat(keys.start), date.fromisoformat(keys.end)


def range_tags(first: date, last: date) -> dict[str, str]:
    """Run tags that make one run cover every partition from `first` to `last`."""
    return {
        "dagster/asset_partition_range_start": first.isoformat(),
        "dagster/asset_partition_range_end": last.isoformat(),
    }


def day_tags(day: date) -> dict[str, str]:
    """Run tags for one landing day."""
    return {"dagster/partition": day.isoformat()}
