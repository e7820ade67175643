"""End to end: the real `dbt build` on a tiny generated landing zone, against a temp DuckDB file."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import duckdb
import pytest

from tests.warehouse.conftest import BuiltWarehouse

pytestmark = pytest.mark.slow

MARTS = {
    "dim_customers",
    "dim_products",
    "dim_stores",
    "fct_orders",
    "fct_payments",
    "fct_chargebacks",
    "fct_daily_sales",
}
LANDING_TABLES = 10


def run_results(warehouse: BuiltWarehouse) -> list[dict]:
    return json.loads((warehouse.env.work_dir / "target" / "run_results.json").read_text())["results"]


def test_build_runs_every_node_green(built_warehouse: BuiltWarehouse) -> None:
    results = run_results(built_warehouse)
    failed = [r["unique_id"] for r in results if r["status"] not in {"success", "pass", "no-op"}]
    assert failed == []
    kinds = {r["unique_id"].split(".")[0] for r in results}
    assert {"model", "seed", "snapshot", "test", "unit_test"} <= kinds
    unit_tests = [r for r in results if r["unique_id"].startswith("unit_test.")]
    assert len(unit_tests) >= 5


def test_marts_land_in_a_schema_named_marts(built_warehouse: BuiltWarehouse) -> None:
    tables = built_warehouse.query(
        "select table_name from information_schema.tables where table_schema = 'marts'"
    )
    assert {name for (name,) in tables} >= MARTS
    schemas = {s for (s,) in built_warehouse.query("select schema_name from information_schema.schemata")}
    assert not any(s.startswith("main_") for s in schemas), schemas
    for mart in MARTS:
        assert built_warehouse.scalar(f"select count(*) from marts.{mart}") > 0, mart


def test_reconciliation_balances_exactly_for_every_landing_table(built_warehouse: BuiltWarehouse) -> None:
    rows = built_warehouse.query(
        "select landing_table, landing_rows, staged_rows, duplicate_rows, quarantined_rows "
        "from audit.reconciliation order by 1"
    )
    assert len(rows) == LANDING_TABLES
    for table, landing, staged, duplicates, quarantined in rows:
        assert landing > 0, table
        assert landing == staged + duplicates + quarantined, table
    # with a 2% defect rate, the books must show both removed re-sends and quarantined rows
    assert sum(r[3] for r in rows) > 0
    assert sum(r[4] for r in rows) > 0


def test_reconciliation_counts_rows_independently_of_staging(built_warehouse: BuiltWarehouse) -> None:
    # Guards against a reconciliation that only re-counts its own inputs: landing rows are read
    # straight from the files here, without dbt.
    landing = built_warehouse.env.landing_dir
    with_duckdb = built_warehouse.scalar(
        f"select count(*) from read_parquet('{landing}/payments/payments/*/*.parquet')"
    )
    assert with_duckdb == built_warehouse.scalar(
        "select landing_rows from audit.reconciliation where landing_table = 'payments.payments'"
    )
    csv_lines = 0
    for path in (landing / "disputes" / "chargebacks").glob("*/*.csv"):
        lines = [line for line in path.read_bytes().decode().replace("\r\n", "\n").split("\n") if line]
        csv_lines += max(len(lines) - 1, 0)
    assert csv_lines == built_warehouse.scalar(
        "select landing_rows from audit.reconciliation where landing_table = 'disputes.chargebacks'"
    )


def test_quarantine_keeps_the_row_the_reason_and_the_load_day(built_warehouse: BuiltWarehouse) -> None:
    reasons = {r for (r,) in built_warehouse.query("select distinct reason from quarantine.rejected_rows")}
    expected_kinds = {
        "malformed_csv_line",
        "unknown_currency",
        "timestamp_without_timezone",
        "orphan_order_id",
        "orphan_payment_id",
        "orphan_product_id",
    }
    assert expected_kinds <= reasons, reasons
    assert any(r.startswith("missing_required_field:") for r in reasons), reasons
    assert {"non_positive_amount", "absurd_amount"} & reasons, reasons
    incomplete = built_warehouse.scalar(
        "select count(*) from quarantine.rejected_rows "
        "where source_row is null or reason is null or loaded_on is null or source_file is null"
    )
    assert incomplete == 0


def test_malformed_csv_lines_are_all_quarantined(built_warehouse: BuiltWarehouse) -> None:
    # The simulator's defect manifest counts each way it breaks a line (garbage, wrong field count...).
    injected = sum(
        n for kind, n in built_warehouse.defects["chargebacks"].items() if kind.startswith("malformed")
    )
    assert injected > 0
    quarantined = built_warehouse.scalar(
        "select count(*) from quarantine.rejected_rows where reason = 'malformed_csv_line'"
    )
    assert quarantined == injected


EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
PHONE = re.compile(r"\+\d{1,3}[\s-]?\d")
PII_PATTERNS = {"email": EMAIL, "phone": PHONE}


def test_no_raw_pii_leaves_staging(built_warehouse: BuiltWarehouse) -> None:
    text_columns = built_warehouse.query(
        "select table_schema, table_name, list(column_name order by column_name) "
        "from information_schema.columns "
        "where data_type = 'VARCHAR' and table_schema not in ('staging', 'quarantine') "
        "group by all order by all"
    )
    assert text_columns
    with duckdb.connect(str(built_warehouse.env.database), read_only=True) as con:
        for schema, table, columns in text_columns:
            # One scan per relation (a view is computed once) over every row of every text column: per
            # column and kind, a value that looks like an email or a phone number, if there is one.
            checks = [(column, kind, pattern) for column in columns for kind, pattern in PII_PATTERNS.items()]
            found = ", ".join(
                f'any_value("{column}") filter (where regexp_matches("{column}", \'{pattern.pattern}\'))'
                for column, _, pattern in checks
            )
            values = con.sql(f'select {found} from "{schema}"."{table}"').fetchone()
            leaks = {
                f"{column} ({kind})": value
                for (column, kind, _), value in zip(checks, values, strict=True)
                if value is not None
            }
            assert not leaks, f"PII in {schema}.{table}: {leaks}"


def test_daily_sales_are_zero_filled_and_add_up(built_warehouse: BuiltWarehouse) -> None:
    # Recomputed from fct_orders: every business day, for each store from its first completed
    # sale and each product from its launch day. Guards against gaps (a forecast would read a
    # missing day as unknown, not as zero) and against padding stores that never sold.
    expected_rows = built_warehouse.scalar(
        """
        with completed as (select * from marts.fct_orders where is_completed and units > 0),
        days as (
            select unnest(generate_series(min(business_date), max(business_date), interval 1 day))::date as d
            from completed
        ),
        store_start as (select store_id, min(business_date) as first_day from completed group by store_id)
        select count(*)
        from days
        join store_start on store_start.first_day <= days.d
        join marts.dim_products p on p.launched_on <= days.d
        """
    )
    assert built_warehouse.scalar("select count(*) from marts.fct_daily_sales") == expected_rows
    assert built_warehouse.scalar("select count(*) from marts.fct_daily_sales where units_sold = 0") > 0
    sold = built_warehouse.scalar("select sum(units_sold) from marts.fct_daily_sales")
    completed_units = built_warehouse.scalar("select sum(units) from marts.fct_orders where is_completed")
    assert sold == completed_units


def test_payments_are_in_utc_and_within_the_simulated_range(built_warehouse: BuiltWarehouse) -> None:
    low, high = built_warehouse.query("select min(paid_at), max(paid_at) from marts.fct_payments")[0]
    assert low.tzinfo is None and high.tzinfo is None
    assert (high - low).days <= 61


def test_snapshot_keeps_one_current_version_per_customer(built_warehouse: BuiltWarehouse) -> None:
    current, customers = built_warehouse.query(
        "select count(*) filter (where dbt_valid_to is null), count(distinct customer_id) "
        "from snapshots.snap_customers"
    )[0]
    assert current == customers > 0


def test_incremental_rerun_changes_nothing(built_warehouse: BuiltWarehouse) -> None:
    checksum = "select count(*), sum(hash(payment_id, amount, paid_at, loaded_on)) from marts.fct_payments"
    before = built_warehouse.query(checksum)
    built_warehouse.env.dbt("build", "--select", "fct_payments")
    assert built_warehouse.query(checksum) == before


def _days(first: object, last: object) -> str:
    return json.dumps({"landing_day_from": str(first), "landing_day_to": str(last)})


def test_a_landing_day_partition_is_replaced_in_place_and_idempotently(
    built_warehouse: BuiltWarehouse,
) -> None:
    """What Dagster runs for a daily partition (or a range in one invocation): those days rebuilt,
    the others untouched, and twice gives the same table."""
    checksum = "select count(*), sum(hash(payment_id, amount, paid_at, loaded_on)) from marts.fct_payments"
    before = built_warehouse.query(checksum)
    day, rows = built_warehouse.query(
        "select loaded_on, count(*) from marts.fct_payments group by 1 order by 1 limit 1 offset 10"
    )[0]
    with duckdb.connect(str(built_warehouse.env.database)) as con:
        con.execute("delete from marts.fct_payments where loaded_on = ?", [day])
    assert built_warehouse.query(checksum)[0][0] == before[0][0] - rows
    for last in (day, day + timedelta(days=5)):  # the day alone, then a range of days, in one run
        built_warehouse.env.dbt("build", "--select", "fct_payments", "--vars", _days(day, last))
        assert built_warehouse.query(checksum) == before


def test_a_daily_run_repairs_earlier_days_whose_valid_payments_changed(
    built_warehouse: BuiltWarehouse,
) -> None:
    """A payment quarantined as an orphan on its own landing day becomes valid when its late order
    lands days later, and belongs to its own day: the later day's run rebuilds that earlier day.
    The reverse (a loaded payment that is no longer valid) is removed the same way. Found by the
    benchmark's incremental run: staging had 4 payments more than fct_payments."""
    checksum = "select count(*), sum(hash(payment_id, amount, paid_at, loaded_on)) from marts.fct_payments"
    before = built_warehouse.query(checksum)
    late, late_day = built_warehouse.query(
        "select payment_id, loaded_on from marts.fct_payments order by 2, 1 limit 1 offset 50"
    )[0]
    day = built_warehouse.scalar("select max(loaded_on) from marts.fct_payments")
    assert late_day < day
    with duckdb.connect(str(built_warehouse.env.database)) as con:
        # as loaded while its order had not arrived: the payment missing from its day
        con.execute("delete from marts.fct_payments where payment_id = ?", [late])
        # and a loaded payment that staging no longer holds as valid, on another earlier day
        con.execute(
            "insert into marts.fct_payments select * replace ('p-gone' as payment_id) "
            "from marts.fct_payments where loaded_on = ? limit 1",
            [late_day + timedelta(days=1)],
        )
    built_warehouse.env.dbt("build", "--select", "fct_payments", "--vars", _days(day, day))
    assert built_warehouse.query(checksum) == before


@pytest.mark.parametrize(
    ("days", "message"),
    [
        (_days("2025-01-01' or true --", "2025-01-02"), "must be a day as YYYY-MM-DD"),
        (json.dumps({"landing_day_from": "2025-01-01"}), "set both landing_day_from and landing_day_to"),
    ],
)
def test_landing_day_vars_are_validated(built_warehouse: BuiltWarehouse, days: str, message: str) -> None:
    result = built_warehouse.env.dbt("compile", "--select", "fct_payments", "--vars", days, check=False)
    assert result.returncode != 0 and message in result.stdout


def test_docs_generate_and_every_built_column_is_documented(built_warehouse: BuiltWarehouse) -> None:
    built_warehouse.env.dbt("docs", "generate")
    target = built_warehouse.env.work_dir / "target"
    catalog = json.loads((target / "catalog.json").read_text())
    manifest = json.loads((target / "manifest.json").read_text())
    models = [k for k in catalog["nodes"] if k.startswith("model.")]
    assert any(key.endswith(".fct_payments") for key in models)
    for unique_id in models:
        built = {c.lower() for c in catalog["nodes"][unique_id]["columns"]}
        declared = {c.lower() for c in manifest["nodes"][unique_id]["columns"]}
        assert built <= declared, f"{unique_id}: columns not in its YAML: {sorted(built - declared)}"


def test_every_model_and_column_is_documented_and_tested(built_warehouse: BuiltWarehouse) -> None:
    manifest = json.loads((built_warehouse.env.work_dir / "target" / "manifest.json").read_text())
    models = {k: v for k, v in manifest["nodes"].items() if v["resource_type"] == "model"}
    tested = {
        dep
        for node in manifest["nodes"].values()
        if node["resource_type"] == "test"
        for dep in node["depends_on"]["nodes"]
    } | {node["model"] for node in manifest.get("unit_tests", {}).values()}
    for unique_id, model in models.items():
        assert model["description"].strip(), f"{unique_id} has no description"
        undocumented = [c for c, col in model["columns"].items() if not col["description"].strip()]
        assert not undocumented, f"{unique_id}: undocumented columns {undocumented}"
        assert unique_id in tested or model["name"] in tested, f"{unique_id} has no test"
        if model["fqn"][1] == "marts":
            assert model["config"]["contract"]["enforced"], f"{unique_id} has no enforced contract"


def test_landing_files_are_named_by_their_path_in_the_landing_zone(built_warehouse: BuiltWarehouse) -> None:
    """The incremental base models recognise loaded files by this name, so it must not depend on
    where the landing zone is or how it was given (relative from a terminal, absolute from Dagster)."""
    names = built_warehouse.query(
        "select distinct _source_file from staging.base_payments__payments "
        "union select distinct source_file from quarantine.rejected_rows"
    )
    pattern = re.compile(r"[a-z]+/[a-z_]+/date=\d{4}-\d{2}-\d{2}/part-\d{5}\.(parquet|csv)")
    assert names and all(pattern.fullmatch(name) for (name,) in names), names[:5]


def test_dbt_gets_the_same_duckdb_limits_as_python(built_warehouse: BuiltWarehouse) -> None:
    """warehouse/plugins/duckdb_limits.py applies ml/duckdb_limits.py's settings to dbt's DuckDB."""
    result = built_warehouse.env.dbt(
        "show",
        "--inline",
        "select current_setting('memory_limit') as memory, current_setting('threads') as threads",
        env={"WAREHOUSE_MEMORY_LIMIT": "1GB", "WAREHOUSE_THREADS": "1"},
    )
    assert re.search(r"\|\s*953\.6 MiB\s*\|\s*1\s*\|", result.stdout), result.stdout
    refused = built_warehouse.env.dbt(
        "show", "--inline", "select 1", env={"WAREHOUSE_THREADS": "x"}, check=False
    )
    assert (
        refused.returncode != 0
        and "WAREHOUSE_THREADS must be a positive integer" in refused.stdout + refused.stderr
    )


def _declared_constraints(manifest: dict) -> dict[tuple[str, str], set[str]]:
    """(mart, column) -> the constraint types its contract declares."""
    declared: dict[tuple[str, str], set[str]] = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] == "model" and node["fqn"][1] == "marts":
            for name, column in node["columns"].items():
                for constraint in column.get("constraints", []):
                    declared.setdefault((node["name"], name), set()).add(constraint["type"])
    return declared


def _unused_key(con: duckdb.DuckDBPyConnection, model: str, key: str) -> str:
    """An expression for a key the mart does not hold: text gets a suffix, a date is after the last."""
    (kind,) = con.execute(
        "select data_type from duckdb_columns() "
        "where schema_name = 'marts' and table_name = ? and column_name = ?",
        [model, key],
    ).fetchone()
    return f"{key} || '#copy'" if kind == "VARCHAR" else f"(select max({key}) + 1 from marts.{model})"


def test_mart_keys_and_required_columns_are_enforced_by_duckdb_not_retested(
    built_warehouse: BuiltWarehouse, tmp_path
) -> None:
    """A mart's primary key and required columns are contract constraints, which DuckDB enforces on
    every insert (a full build and each incremental day): a duplicate or null key fails the model.
    A `unique` or `not_null` data test on such a column could never fail, and would cost a dbt node
    and a Dagster asset check on every run, so none may exist."""
    manifest = json.loads((built_warehouse.env.work_dir / "target" / "manifest.json").read_text())
    declared = _declared_constraints(manifest)
    retested = [
        (node["attached_node"], node["column_name"], node["test_metadata"]["name"])
        for node in manifest["nodes"].values()
        if node["resource_type"] == "test"
        and node.get("test_metadata", {}).get("name") in ("unique", "not_null")
        and not node["config"].get("where")
        and (node["attached_node"].split(".")[-1], node["column_name"]) in declared
        and {"unique": "primary_key", "not_null": "not_null"}[node["test_metadata"]["name"]]
        in declared[(node["attached_node"].split(".")[-1], node["column_name"])]
    ]
    assert not retested, retested
    keys = {model: column for (model, column), kinds in declared.items() if "primary_key" in kinds}
    assert {"fct_payments", "fct_orders", "dim_customers", "fraud_review_queue"} <= set(keys)

    copy = tmp_path / "warehouse.duckdb"
    copy.write_bytes(built_warehouse.env.database.read_bytes())
    with duckdb.connect(str(copy)) as con:
        for model, key in sorted(keys.items()):
            if not con.execute(f"select count(*) from marts.{model}").fetchone()[0]:
                continue
            with pytest.raises(duckdb.ConstraintException, match=key):
                con.execute(f"insert into marts.{model} select * from marts.{model} limit 1")
            with pytest.raises(duckdb.ConstraintException, match=f"NOT NULL.*{key}"):
                con.execute(
                    f"insert into marts.{model} select * replace (null as {key}) from marts.{model} limit 1"
                )
        required = sorted(c for c, kinds in declared.items() if kinds == {"not_null"})
        assert len(required) >= 10, required
        for model, column in required:
            if con.execute(f"select count(*) from marts.{model}").fetchone()[0]:
                # a copy of a row under a new key, so only the null can break a constraint
                new_key = (
                    f", {_unused_key(con, model, keys[model])} as {keys[model]}" if model in keys else ""
                )
                with pytest.raises(duckdb.ConstraintException, match=f"NOT NULL.*{column}"):
                    con.execute(
                        f"insert into marts.{model} select * replace (null as {column}{new_key}) "
                        f"from marts.{model} limit 1"
                    )
