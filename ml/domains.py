"""Domains: the retail demo, and any business added beside it in folders of its own.

A domain other than retail keeps everything it adds in two places:

- `warehouse/models/domains/<name>/`: its sources (landing tables, with the landing contract in
  their `meta`, and the ML layer's score tables), its staging and its feature models, switched on
  in `warehouse/dbt_project.yml` by the domain's name in `WAREHOUSE_DOMAINS`;
- its model specs, with `domain: <name>` (ml/models/ or MODEL_SPECS_DIR).

`WAREHOUSE_DOMAINS` (comma-separated, default empty) names the domains switched on; retail is always
on. A domain switched on whose landing tables have no file yet is skipped with one log line, so a
domain that has not started exporting does not fail everyone's build. `python -m ml.domains` prints
the domains that will run (what the Makefile hands dbt when it parses the project).
"""

from __future__ import annotations

import logging
import sys
from functools import cache
from pathlib import Path

import yaml

from ml.settings import REPO_ROOT, RETAIL, Settings

DOMAINS_DIR = REPO_ROOT / "warehouse" / "models" / "domains"
log = logging.getLogger(__name__)


class DomainError(ValueError):
    """A domain named in the settings that the project does not have."""


def available() -> tuple[str, ...]:
    """Retail and every domain folder under warehouse/models/domains/."""
    folders = DOMAINS_DIR.iterdir() if DOMAINS_DIR.is_dir() else ()
    return (RETAIL, *sorted(path.name for path in folders if path.is_dir()))


@cache
def landing_tables(domain: str) -> tuple[tuple[str, str], ...]:
    """(system, table) of each landing table a domain's source YAML declares."""
    tables = []
    for path in sorted((DOMAINS_DIR / domain).rglob("_*__sources.yml")):
        for source in yaml.safe_load(path.read_text()).get("sources", []):
            if "landing_format" in (source.get("meta") or {}):
                tables += [(source["name"], table["name"]) for table in source.get("tables", [])]
    return tuple(tables)


def _has_files(folder: Path) -> bool:
    return folder.is_dir() and any(path.is_file() for path in folder.rglob("*"))


def active(settings: Settings) -> tuple[str, ...]:
    """The domains switched on that have landing data, retail first. Each one skipped is logged
    once, with the folder it looked in."""
    unknown = sorted(set(settings.domains) - set(available()))
    if unknown:
        raise DomainError(
            f"WAREHOUSE_DOMAINS names {unknown}, which have no folder under "
            f"{DOMAINS_DIR.relative_to(REPO_ROOT)}/; the domains are {list(available())}"
        )
    running = [RETAIL]
    for domain in settings.domains[1:]:
        tables = landing_tables(domain)
        empty = [settings.landing_dir / system / table for system, table in tables]
        empty = [folder for folder in empty if not _has_files(folder)]
        if not tables or empty:
            where = ", ".join(str(folder) for folder in empty) or "(no landing table declared)"
            log.warning(f"domain {domain}: skipped, no landing files in {where}")
            continue
        running.append(domain)
    return tuple(running)


def main() -> int:
    logging.basicConfig(format="%(message)s", stream=sys.stderr)
    print(",".join(active(Settings.from_environ())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
