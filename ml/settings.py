"""Where everything lives: every path the pipeline reads or writes, with its one default.

Each path comes from an environment variable (the bench and the tests set them) or
defaults under the repository's `data/` folder. `Settings.from_environ()` reads them all at once
into a frozen object. An entry point reads them once (the Dagster resource in
orchestration/defs/settings.py, `python -m ml`, the bench) and passes the paths on as arguments;
nothing reads them at import time. The dbt project has its own
defaults for the same files, relative to `warehouse/` (profiles.yml, the source YAML,
dbt_project.yml), because dbt reads them itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT / "data"
# each path's environment variable and default
PATHS: dict[str, tuple[str, Path]] = {
    "warehouse_db": ("WAREHOUSE_DB", DATA_DIR / "warehouse.duckdb"),
    "analytics_db": ("ANALYTICS_DB", DATA_DIR / "analytics.duckdb"),
    "landing_dir": ("LANDING_DIR", DATA_DIR / "landing"),
    "rejected_dir": ("REJECTED_DIR", DATA_DIR / "landing_rejected"),
    "models_dir": ("MODELS_DIR", DATA_DIR / "models"),
    "specs_dir": ("MODEL_SPECS_DIR", Path(__file__).parent / "models"),
}
PATH_VARIABLES = tuple(variable for variable, _ in PATHS.values())
# The domains to build besides retail, which is always on (ml/domains.py): comma-separated names.
DOMAINS_VARIABLE = "WAREHOUSE_DOMAINS"
RETAIL = "retail"
# The dask.distributed scheduler a spec with `lightgbm.engine: dask` trains on (host:port); unset, a
# local cluster of the spec's `workers` processes is started for the run (ml/training/distributed.py).
DASK_VARIABLE = "DASK_SCHEDULER_ADDRESS"
# The engine that builds the warehouse: `duckdb` (the build file above) or `spark` (dbt's `spark`
# target: tables as Parquet under SPARK_WAREHOUSE_DIR, warehouse/profiles.yml). Dagster's dbt steps,
# the ML layer's reads and writes and the publish follow it (orchestration/lib/engine.py).
ENGINE_VARIABLE = "WAREHOUSE_ENGINE"
ENGINES = ("duckdb", "spark")


@dataclass(frozen=True)
class Settings:
    warehouse_db: Path  # the DuckDB file dbt and the ML layer build
    analytics_db: Path  # the published read-only copy analysts and the API open
    landing_dir: Path  # the landing zone the source systems export to
    rejected_dir: Path  # unreadable landing files, moved out with a record
    models_dir: Path  # model artifacts, <model>/<version>/
    specs_dir: Path  # the model specs
    domains: tuple[str, ...] = (RETAIL,)  # the domains switched on, retail first
    dask_scheduler: str | None = None  # where dask-engine models train; None: a local cluster
    engine: str = ENGINES[0]  # what builds the warehouse: duckdb or spark

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        values = os.environ if environ is None else environ
        paths = {field: Path(values.get(name) or default) for field, (name, default) in PATHS.items()}
        return cls(
            **paths,
            domains=parse_domains(values.get(DOMAINS_VARIABLE, "")),
            dask_scheduler=values.get(DASK_VARIABLE) or None,
            engine=parse_engine(values.get(ENGINE_VARIABLE, "")),
        )

    def resolved(self) -> Settings:
        """The same settings with every path absolute (a relative one is taken from the current
        directory once, not wherever a later call happens to run)."""
        return replace(self, **{field: getattr(self, field).resolve() for field in PATHS})


def parse_domains(value: str) -> tuple[str, ...]:
    """`WAREHOUSE_DOMAINS`' names, retail first and each once ("" or "retail": retail only)."""
    names = [name.strip() for name in value.split(",") if name.strip()]
    return (RETAIL, *dict.fromkeys(name for name in names if name != RETAIL))


def parse_engine(value: str) -> str:
    """`WAREHOUSE_ENGINE`'s engine ("" means duckdb); anything else is refused by name."""
    engine = value.strip().lower() or ENGINES[0]
    if engine not in ENGINES:
        raise ValueError(f"{ENGINE_VARIABLE}={value!r}: the warehouse engine is one of {', '.join(ENGINES)}")
    return engine


def settings() -> Settings:
    return Settings.from_environ()


def specs_dir() -> Path:
    """Where the model specs live."""
    return settings().specs_dir


def main(argv: list[str] | None = None) -> int:
    """`python -m ml.settings`: every path as `VARIABLE=value`, resolved from the environment;
    `--make-dirs` also creates the folders the databases live in (dbt does not create them)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m ml.settings", description=main.__doc__)
    parser.add_argument("--make-dirs", action="store_true", help="create the databases' folders")
    args = parser.parse_args(argv)
    current = settings().resolved()
    if args.make_dirs:
        for database in (current.warehouse_db, current.analytics_db):
            database.parent.mkdir(parents=True, exist_ok=True)
    for field, (variable, _) in PATHS.items():
        print(f"{variable}={getattr(current, field)}")
    print(f"{DOMAINS_VARIABLE}={','.join(current.domains)}")
    print(f"{DASK_VARIABLE}={current.dask_scheduler or ''}")
    print(f"{ENGINE_VARIABLE}={current.engine}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
