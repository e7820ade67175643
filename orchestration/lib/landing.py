"""What has arrived in the landing zone: the newest export day of each table."""

from __future__ import annotations

import re
from datetime import date

from orchestration.lib.environment import landing_dir

PARTITION = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")


def newest_days() -> dict[tuple[str, str], date]:
    """(system, table) -> the newest `date=` folder present."""
    newest: dict[tuple[str, str], date] = {}
    for folder in landing_dir().glob("*/*/date=*"):
        match = PARTITION.match(folder.name)
        if match:
            table = (folder.parent.parent.name, folder.parent.name)
            day = date.fromisoformat(match.group(1))
            newest[table] = max(newest.get(table, day), day)
    return newest
