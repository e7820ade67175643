"""What has arrived in the landing zone: the export days of each table.

`python -m orchestration.lib.landing` registers every landing day present as a partition of the
Dagster instance (DAGSTER_HOME) and prints the run tags that cover them all, so `make run`
materializes the whole range in one run; `--day YYYY-MM-DD` prints the tags of that one day.
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

from orchestration.lib.environment import landing_dir

PARTITION = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")


def landing_days(root: Path | None = None) -> dict[tuple[str, str], list[date]]:
    """(system, table) -> the sorted `date=` folders present under `root` (default: LANDING_DIR)."""
    days: dict[tuple[str, str], list[date]] = {}
    for folder in (root or landing_dir()).glob("*/*/date=*"):
        match = PARTITION.match(folder.name)
        if match:
            table = (folder.parent.parent.name, folder.parent.name)
            days.setdefault(table, []).append(date.fromisoformat(match.group(1)))
    return {table: sorted(found) for table, found in days.items()}


def newest_days(root: Path | None = None) -> dict[tuple[str, str], date]:
    """(system, table) -> the newest `date=` folder present under `root` (default: LANDING_DIR)."""
    return {table: found[-1] for table, found in landing_days(root).items()}


def landing_range() -> tuple[date, date]:
    """The oldest and newest landing day of any table; an empty landing zone is an error."""
    days = [day for found in landing_days().values() for day in found]
    if not days:
        raise FileNotFoundError(f"no date=YYYY-MM-DD folders under {landing_dir()}: run `make data` first")
    return min(days), max(days)


def all_landing_days() -> list[date]:
    """Every landing day of any table, sorted."""
    return sorted({day for found in landing_days().values() for day in found})


def main(argv: list[str] | None = None) -> int:
    import argparse

    import dagster as dg

    from orchestration.lib.partitions import day_tags, range_tags, register_landing_days

    parser = argparse.ArgumentParser(
        prog="python -m orchestration.lib.landing",
        description="Register the landing days present as partitions; print the run tags covering them.",
    )
    parser.add_argument("--day", type=date.fromisoformat, help="print the tags of this landing day only")
    args = parser.parse_args(argv)
    first, last = landing_range()
    if args.day is not None and args.day not in all_landing_days():
        parser.error(f"no landing folder date={args.day} under {landing_dir()}")
    with dg.DagsterInstance.get() as instance:
        register_landing_days(instance, all_landing_days())
    print(json.dumps(day_tags(args.day) if args.day else range_tags(first, last)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
