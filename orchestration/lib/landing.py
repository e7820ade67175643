"""What has arrived in the landing zone: the export days of each table.

`python -m orchestration.lib.landing` prints the run tags that cover every landing day present, so
`make run` materializes the whole range in one run.
"""

from __future__ import annotations

import json
import re
from datetime import date

from orchestration.lib.environment import landing_dir

PARTITION = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")


def landing_days() -> dict[tuple[str, str], list[date]]:
    """(system, table) -> the sorted `date=` folders present."""
    days: dict[tuple[str, str], list[date]] = {}
    for folder in landing_dir().glob("*/*/date=*"):
        match = PARTITION.match(folder.name)
        if match:
            table = (folder.parent.parent.name, folder.parent.name)
            days.setdefault(table, []).append(date.fromisoformat(match.group(1)))
    return {table: sorted(found) for table, found in days.items()}


def newest_days() -> dict[tuple[str, str], date]:
    """(system, table) -> the newest `date=` folder present."""
    return {table: found[-1] for table, found in landing_days().items()}


def landing_range() -> tuple[date, date]:
    """The oldest and newest landing day of any table; an empty landing zone is an error."""
    days = [day for found in landing_days().values() for day in found]
    if not days:
        raise FileNotFoundError(f"no date=YYYY-MM-DD folders under {landing_dir()}: run `make data` first")
    return min(days), max(days)


if __name__ == "__main__":
    from orchestration.lib.partitions import range_tags

    print(json.dumps(range_tags(*landing_range())))
