"""The `ml` schema has one owner: Python creates the score tables from the types declared on dbt's
`ml` source (ml/output_tables.py), and nothing in dbt creates them."""

from __future__ import annotations

import duckdb
import pytest

from ml.domains import available
from ml.output_tables import declared_tables, ensure_tables
from ml.specs import load_specs
from tests.conftest import WAREHOUSE_DIR


def test_every_specs_output_table_is_declared() -> None:
    assert {spec.output.table for spec in load_specs().values()} == set(declared_tables())


def test_the_tables_are_created_with_the_declared_types() -> None:
    with duckdb.connect() as con:
        created = ensure_tables(con, available())
        assert ensure_tables(con, available()) == created  # again: nothing to do, nothing replaced
        for table in created:
            described = con.execute(f"describe {table}").fetchall()
            declared = [(name, data_type.upper()) for name, data_type in declared_tables()[table]]
            assert [(row[0], row[1]) for row in described] == declared, table


def test_an_undeclared_table_is_refused_with_where_to_declare_it() -> None:
    from ml.output_tables import create_statement

    with pytest.raises(KeyError, match=r"_ml__sources\.yml"):
        create_statement("ml.not_declared")


def test_dbt_creates_nothing_in_the_ml_schema() -> None:
    project = (WAREHOUSE_DIR / "dbt_project.yml").read_text()
    assert "on-run-start" not in project and "on_run_start" not in project
    # the only macro that creates tables is Spark's source relations (landing files, rejection
    # records), none of them in ml: on Spark the ml layer's tables come from the Spark runner
    creating = {
        path.relative_to(WAREHOUSE_DIR).as_posix(): path.read_text().lower()
        for path in (WAREHOUSE_DIR / "macros").rglob("*.sql")
        if "create table" in path.read_text().lower()
    }
    assert sorted(creating) == ["macros/engines/landing_relations.sql"]
    assert " ml." not in creating["macros/engines/landing_relations.sql"]
    assert "'ml'" not in creating["macros/engines/landing_relations.sql"]
