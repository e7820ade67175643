"""sqlfluff over the dbt project, each branch of every incremental model included, on no one's data.

sqlfluff's dbt templater compiles the project against the profile's database. Against a built
warehouse `is_incremental()` is true and the incremental branch of each incremental model is what
gets linted; against an empty one the full-refresh branch is. So lint depends on the state of
`data/` and never sees both branches in one run. This runs it twice on throwaway databases:

1. every model against an empty database (first-run branches);
2. the incremental models again, against a database holding an empty table at each incremental
   model's relation, so `is_incremental()` is true (the relation exists and is a table).

The relations come from the project's manifest (`target/manifest.json`, which `make lint` refreshes
first). The incremental branches of the landing models list the landing files they have not read yet
while they compile, so a three-day simulated landing zone is generated in the throwaway directory too;
a model dbt cannot compile fails the run (`dbt_skip_compilation_error = False` in .sqlfluff) instead of
being skipped with a warning.
dbt's target and log paths go to the throwaway directory: linting never writes the project's
`target/` (the manifest Dagster loads) or `data/`. Exit status: sqlfluff's, the worse of the two.

    python scripts/lint.py [path ...]     # from warehouse/, as `make lint` does (default: models)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb

from ml.domains import available
from simulator.sample import sample_landing

PROJECT_DIR = Path(__file__).resolve().parents[1]


Relation = tuple[str, str, str, str]  # schema, name, path under the project, column definitions


def incremental_models(manifest: dict) -> list[Relation]:
    """(schema, relation name, path under the project, columns) of every incremental model, sorted.
    The columns are the documented ones (every model documents all of its columns), typed as declared
    or as varchar: an incremental branch may query its own table, as the base models do."""
    return sorted(
        (
            node["schema"],
            node.get("alias") or node["name"],
            node["original_file_path"],
            ", ".join(
                f'"{name}" {column.get("data_type") or "varchar"}' for name, column in node["columns"].items()
            )
            or "placeholder integer",
        )
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"].get("materialized") == "incremental"
    )


def create_relations(database: Path, relations: list[Relation]) -> None:
    """An empty table at each relation: enough for dbt to consider the model built."""
    with duckdb.connect(str(database)) as con:
        for schema, name, _, columns in relations:
            con.execute(f'create schema if not exists "{schema}"')
            con.execute(f'create table "{schema}"."{name}" ({columns})')


def sqlfluff(paths: list[str], database: Path, work: Path) -> subprocess.Popen[str]:
    """sqlfluff started on `paths` against `database`, its output captured; dbt's target and log paths
    are its own (beside the database), so two can run at once."""
    env = {
        **os.environ,
        "LANDING_DIR": str(work / "landing"),
        "WAREHOUSE_DB": str(database),
        "DBT_TARGET_PATH": str(database.parent / "target"),
        "DBT_LOG_PATH": str(database.parent / "logs"),
        # every domain, switched on or not: its SQL is linted all the same (ml/domains.py)
        "WAREHOUSE_DOMAINS": ",".join(available()),
    }
    sqlfluff_bin = Path(sys.executable).with_name("sqlfluff")
    return subprocess.Popen(
        [str(sqlfluff_bin), "lint", *paths],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def load_manifest() -> dict:
    """The project's parsed manifest (`make lint` brings it up to date first, as `make install` does)."""
    path = PROJECT_DIR / "target" / "manifest.json"
    if not path.exists():
        raise SystemExit(f"{path} is missing: run `make install` (or `dbt parse`) first")
    return json.loads(path.read_text())


def within(path: str, roots: list[str]) -> bool:
    return any(Path(path).is_relative_to(Path(root)) for root in roots)


def main(paths: list[str]) -> int:
    paths = paths or ["models"]
    with tempfile.TemporaryDirectory(prefix="sqlfluff-") as tmp:
        work = Path(tmp)
        relations = [r for r in incremental_models(load_manifest()) if within(r[2], paths)]
        # the file is named as the project's, so relations carry the same database name
        first_run = work / "first_run" / "warehouse.duckdb"
        incremental = work / "incremental" / "warehouse.duckdb"
        for database in (first_run, incremental):
            database.parent.mkdir()
        create_relations(incremental, relations)
        sample_landing(work)
        # The two passes run at once (sqlfluff and dbt's compiler use one core each): 69 s instead of
        # 98 s one after the other on two cores. Each pass's report is printed whole, in order.
        first_run_title = f"sqlfluff: {' '.join(paths)}, first-run branches (empty database)"
        passes = [(first_run_title, sqlfluff(paths, first_run, work))]
        if relations:
            title = f"sqlfluff: incremental branches of {len(relations)} incremental model(s)"
            passes.append((title, sqlfluff([path for _, _, path, _ in relations], incremental, work)))
        status = 0
        for title, process in passes:
            output, _ = process.communicate()
            print(title, output, sep="\n", end="", flush=True)
            status = max(status, process.returncode)
        return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
