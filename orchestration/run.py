"""`make run`'s pipeline run, readable: `python -m orchestration.run [JOB] [--day D] [--full-refresh]`.

It registers the landing days present, runs the job through Dagster over all of them (or one day)
as one run, and prints one line per finished step and a summary: the published tables and their
rows, each champion and its headline metric, where the log and the UI are. Dagster's full event
stream (every event, dbt's own lines) goes to a log file under data/logs/, named in the output.

When nothing a run reads has changed since the last successful run of the same job, and its
published file is still in place, nothing runs: the output says so and which run is current
(`--force` runs anyway). `--full-refresh` rebuilds every incremental dbt model from scratch (the
run tag `warehouse/full_refresh`, which the dbt steps turn into `dbt build --full-refresh`; set it
on a run launched from the UI for the same effect).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg

from ml.settings import DATA_DIR, settings
from orchestration.lib.environment import REPO_ROOT, analytics_db, warehouse_db
from orchestration.lib.inputs import (
    digest_after_run,
    inputs_digest,
    landing_listing,
    project_digest,
    published_stamp,
)
from orchestration.lib.landing import all_landing_days, landing_range
from orchestration.lib.partitions import FULL_REFRESH_TAG, day_tags, range_tags, register_landing_days
from orchestration.lib.progress import EVENT_TYPES, Progress

LAUNCH_TAG = "orchestration/launch"
INPUTS_TAG = "warehouse/inputs"
PUBLISHED_TAG = "warehouse/published"
POLL_SECONDS = 0.5
UI_URL = "http://127.0.0.1:3000"
TAIL_LINES = 15


def say(line: str) -> None:
    print(line, flush=True)


def current_run(instance: dg.DagsterInstance, job: str, digest: str) -> dg.DagsterRun | None:
    """The last successful run of the job that read exactly these inputs and whose published file
    is still the one it wrote."""
    runs = instance.get_runs(
        filters=dg.RunsFilter(
            job_name=job, statuses=[dg.DagsterRunStatus.SUCCESS], tags={INPUTS_TAG: digest}
        ),
        limit=1,
    )
    stamp = published_stamp()
    return runs[0] if runs and stamp and runs[0].tags.get(PUBLISHED_TAG) == stamp else None


def find_run(instance: dg.DagsterInstance, launch: str, process: subprocess.Popen) -> dg.DagsterRun | None:
    """The run the child process created, once it exists (None if the process ended before)."""
    while True:
        runs = instance.get_runs(filters=dg.RunsFilter(tags={LAUNCH_TAG: launch}), limit=1)
        if runs:
            return runs[0]
        if process.poll() is not None:
            return None
        time.sleep(POLL_SECONDS)


def follow(instance: dg.DagsterInstance, run_id: str, process: subprocess.Popen, progress: Progress) -> None:
    """Feed the run's events to the progress view until the process has exited and all are read."""
    cursor = None
    while True:
        exited = process.poll() is not None
        connection = instance.get_records_for_run(run_id, cursor=cursor, of_type=EVENT_TYPES)
        for record in connection.records:
            progress.handle(record.event_log_entry)
        cursor = connection.cursor
        if exited and not connection.has_more:
            return
        if not connection.has_more:
            time.sleep(POLL_SECONDS)


def summary(published: Path) -> list[str]:
    """The published tables with their rows, and each champion with its headline metric."""
    from ml.duckdb_limits import connect
    from ml.identifiers import quote_relation
    from orchestration.defs.domains import running_specs

    lines = [f"Published {published} (open it read-only: duckdb -readonly {published}):"]
    with connect(published, read_only=True) as con:
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() order by schema_name, table_name"
        ).fetchall()
        for schema, table in tables:
            (rows,) = con.execute(f"select count(*) from {quote_relation(f'{schema}.{table}')}").fetchone()
            lines.append(f"  {schema}.{table:<34} {rows:>12,} rows")
        champions = con.execute(
            "select aliases.model_name, aliases.version, registry.metrics from ml.model_aliases as aliases "
            "inner join ml.model_registry as registry using (model_name, version) "
            "where aliases.alias = 'champion' order by 1"
        ).fetchall()
    specs = running_specs()
    for name, version, metrics in champions:
        spec = specs.get(name)
        test = json.loads(metrics).get("test", {})
        headline = next(iter(spec.gates.floors), None) if spec else None
        figure = f", test {headline} {test[headline]:.4f}" if headline in test else ""
        lines.append(f"Champion {name} v{version}{figure}")
    return lines


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m orchestration.run", description=__doc__.split("\n")[0])
    parser.add_argument("job", nargs="?", default="full_pipeline")
    parser.add_argument("--day", type=date.fromisoformat, help="run one landing day (its partition)")
    parser.add_argument("--full-refresh", action="store_true", help="rebuild incremental dbt models")
    parser.add_argument("--force", action="store_true", help="run even when nothing has changed")
    parser.add_argument("--log-dir", type=Path, default=DATA_DIR / "logs")
    return parser.parse_args(argv)


def ensure_dagster_home() -> None:
    """`make` sets DAGSTER_HOME; run from a terminal without it, the same instance folder is used."""
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(REPO_ROOT / ".dagster_home")))
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copy(REPO_ROOT / "orchestration" / "dagster.yaml", home / "dagster.yaml")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ensure_dagster_home()
    started = time.monotonic()
    first, last = landing_range()
    present = all_landing_days()
    if args.day is not None and args.day not in present:
        raise SystemExit(f"no landing folder date={args.day} in the landing zone")
    listing, project = landing_listing(), project_digest()
    digest = inputs_digest(listing, project)
    with dg.DagsterInstance.get() as instance:
        register_landing_days(instance, present)
        whole = args.day is None
        if whole and not (args.force or args.full_refresh):
            current = current_run(instance, args.job, digest)
            if current is not None:
                say(
                    f"Nothing new since run {current.run_id} ({args.job}): no landing file, code, SQL, "
                    "spec or setting changed, and its published file is in place. Nothing was rebuilt, "
                    f"retrained or republished ({time.monotonic() - started:.1f} s). "
                    "`python -m orchestration.run --force` runs anyway."
                )
                return 0
        launch = uuid.uuid4().hex
        tags = {**(range_tags(first, last) if whole else day_tags(args.day)), LAUNCH_TAG: launch}
        if args.full_refresh:
            tags[FULL_REFRESH_TAG] = "true"
        args.log_dir.mkdir(parents=True, exist_ok=True)
        log = args.log_dir / f"{args.job}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.log"
        days = f"landing days {first} to {last}" if whole else f"landing day {args.day}"
        say(f"{args.job}: {days}{' (full refresh)' if args.full_refresh else ''}. Full log: {log}")
        command = [
            *(str(Path(sys.executable).with_name("dagster")), "job", "execute"),
            *("-m", "orchestration.definitions", "-j", args.job, "--tags", json.dumps(tags)),
        ]
        with log.open("w") as out:
            process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT)
        progress = Progress(say)
        run = find_run(instance, launch, process)
        if run is not None:
            say(f"run {run.run_id} started after {time.monotonic() - started:.1f} s")
            follow(instance, run.run_id, process, progress)
        code = process.wait()
        seconds = time.monotonic() - started
        if run is None or code != 0 or not progress.succeeded:
            say(f"{args.job} FAILED after {seconds:.1f} s (exit code {code}).")
            # no step failed by name (the definitions did not load, the run was refused): the log's end
            tail = log.read_text(errors="replace").splitlines()[-TAIL_LINES:]
            for failure in progress.failures or [f"the last lines of {log}:", *tail]:
                say(f"  {failure}")
            say(f"Full log: {log}")
            return code or 1
        if whole:  # what this run read and published, for the next `make run` to compare with
            instance.add_run_tags(
                run.run_id, {INPUTS_TAG: digest_after_run(listing, project), PUBLISHED_TAG: published_stamp()}
            )
    say(f"{args.job} succeeded in {seconds:.1f} s.")
    if analytics_db().is_file():
        for line in summary(analytics_db()):
            say(line)
    if settings().engine == "spark":
        built = f"Built on Spark: tables in {os.environ.get('SPARK_WAREHOUSE_DIR', 'data/spark-warehouse')}"
    else:
        built = f"Build file {warehouse_db()}"
    say(f"{built}. Full log: {log}")
    say(f"The run in the UI: `make dev`, then {UI_URL}/runs/{run.run_id}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
