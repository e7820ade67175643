"""The warehouse built on Spark in phases, in one process and one Spark session: once per landing
folder given, in order, each an incremental run over the tables the previous one built (as a
daily run follows the last), then every built relation exported as Parquet.

    python -m tests.spark_in_phases --landing FIRST_HALF --landing WHOLE --export DIR [dbt selection]

Each phase is orchestration.lib.spark_build's build (the source relations, the seeds, `dbt run`)
with LANDING_DIR set to its folder. The cross-engine test compares the export with a DuckDB build
of the last folder: Spark's incremental models, which replace whole landing days, must give what a
full build gives.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from orchestration.lib import spark_build
from orchestration.lib.environment import environ_set


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.spark_in_phases")
    parser.add_argument("--landing", type=Path, action="append", required=True)
    parser.add_argument("--export", type=Path, required=True)
    args, dbt_args = parser.parse_known_args(argv)
    for landing in args.landing:
        print(f"--- phase: LANDING_DIR={landing}", flush=True)
        with environ_set({"LANDING_DIR": str(landing)}):
            spark_build.build("run", dbt_args)
    print(f"exported {spark_build.export(args.export)} relations to {args.export}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
