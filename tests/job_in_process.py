"""A job of the project's definitions executed in this process on the instance in DAGSTER_HOME, with
every asset and either every check or all but the dbt data tests:

    python -m tests.job_in_process full_pipeline --tags '{"dagster/asset_partition_range_start": ...}'
    python -m tests.job_in_process full_pipeline --tags ... --without-dbt-tests

Without the dbt data tests, dagster-dbt runs the dbt steps' models only (the run selects none of
their checks); the ML layer's blocking checks (promotion gate, score sanity, monitoring) run as
always. A test that runs the graph on an engine where each data test costs a second or more (Spark)
uses it; `make test` runs the data tests on DuckDB. Prints each step's outcome; exits 1 if the run
failed.
"""

from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.job_in_process")
    parser.add_argument("job")
    parser.add_argument("--tags", default="{}", help="run tags as JSON (the landing range)")
    parser.add_argument("--without-dbt-tests", action="store_true")
    args = parser.parse_args(argv)

    import dagster as dg

    from orchestration.definitions import defs
    from orchestration.defs.dbt.assets import DBT_PHASES

    job = defs.resolve_job_def(args.job)
    if args.without_dbt_tests:
        graph = job.asset_layer.asset_graph
        dbt_checks = {key for phase in DBT_PHASES for key in phase.check_keys}
        job = job.get_subset(
            asset_selection=set(graph.executable_asset_keys),
            asset_check_selection=set(graph.asset_check_keys) - dbt_checks,
        )
    with dg.DagsterInstance.get() as instance:
        result = job.execute_in_process(instance=instance, tags=json.loads(args.tags), raise_on_error=False)
    for event in result.all_events:
        if event.is_step_success or event.is_step_failure:
            print(f"{event.step_key}: {event.event_type_value}", flush=True)
            if event.is_step_failure:
                print(event.step_failure_data.error.to_string() if event.step_failure_data.error else "")
    print(f"run {result.run_id}: {'success' if result.success else 'FAILURE'}", flush=True)
    return 0 if result.success else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
