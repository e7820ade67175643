"""`python -m orchestration.defs.publish`: the publish step from a terminal.

Publishes WAREHOUSE_DB (Spark's tables with WAREHOUSE_ENGINE=spark) to ANALYTICS_DB exactly as
the Dagster asset does (write, audit, atomic rename), holding the same pipeline lock, and prints
what it published and how long it took. The benchmark (`python -m bench`) runs it as the last stage
of the pipeline.
"""

from __future__ import annotations

import time

from ml.settings import settings
from orchestration.defs.domains import dbt_environ
from orchestration.defs.publish.publishing import publish
from orchestration.lib.dbt_target import target_root
from orchestration.lib.engine import build_source
from orchestration.lib.environment import analytics_db, warehouse_db
from orchestration.lib.run_lock import exclusive_run


def main() -> None:
    start = time.perf_counter()
    build_file = warehouse_db()
    with exclusive_run(build_file, holder="python -m orchestration.defs.publish"):
        result = publish(
            build_file, analytics_db(), build_source(settings(), dbt_environ()), semantic_layer=target_root()
        )
    elapsed = time.perf_counter() - start
    rows = sum(result.tables.values())
    print(f"published {len(result.tables)} tables ({rows:,} rows) to {result.path} in {elapsed:.2f} s")


if __name__ == "__main__":
    main()
