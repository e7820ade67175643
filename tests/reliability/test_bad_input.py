"""Bad input, one kind per test: each defect is planted in its own new landing file of a tiny world,
then the real inventory and `dbt build` run once. Each test checks its file's fate: the rows in
quarantine with the expected reason (or the file in the rejected zone), and the books balance.

Structural breaks (a contract column missing or retyped, a CSV header changed) stop the inventory
with the file and the column named, before dbt: see the tests at the bottom.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestration.lib.landing_inventory import ContractError, load_contract, take_inventory
from tests.conftest import DbtEnv, generate_world

pytestmark = pytest.mark.slow

WORLD = {"seed": 23, "days": 45, "customers": 400, "stores": 2, "products": 10, "payments_per_day": 80}
CHARGEBACK_HEADER = "chargeback_id,payment_id,received_at,reason_code,amount,currency"


@dataclass(frozen=True)
class World:
    landing: Path
    rejected: Path
    day: date  # the newest landing day: every planted file lands there

    def folder(self, system: str, table: str) -> Path:
        path = self.landing / system / table / f"date={self.day}"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def sample(self, system: str, table: str) -> pa.Table:
        """One real row of the table, to plant defects in."""
        first = sorted((self.landing / system / table).glob("date=*/*.parquet"))[0]
        return pq.read_table(first).slice(0, 1)

    def write(self, system: str, table: str, name: str, data: pa.Table) -> str:
        pq.write_table(data, self.folder(system, table) / name)
        return name


def with_values(row: pa.Table, **values) -> pa.Table:
    for column, value in values.items():
        index = row.schema.get_field_index(column)
        row = row.set_column(index, column, pa.array([value], row.schema.field(column).type))
    return row


def csv_file(world: World, name: str, body: bytes) -> str:
    (world.folder("disputes", "chargebacks") / name).write_bytes(CHARGEBACK_HEADER.encode() + b"\n" + body)
    return name


def plant_all(world: World) -> dict[str, str]:
    """Every defect in its own new file of the newest day: kind -> file name."""
    payment = world.sample("payments", "payments")
    order = world.sample("shop", "orders")
    stamp = f"{world.day + timedelta(days=5)}T10:00:00+00:00"
    old_stamp = f"{world.day - timedelta(days=30)}T10:00:00+00:00"
    files = {
        "negative_amount": world.write(
            "payments",
            "payments",
            "part-09001.parquet",
            with_values(payment, payment_id="BAD-NEG", amount=Decimal("-5.00")),
        ),
        "absurd_amount": world.write(
            "payments",
            "payments",
            "part-09002.parquet",
            with_values(payment, payment_id="BAD-HUGE", amount=Decimal("9999999999.00")),
        ),
        "unknown_foreign_key": world.write(
            "payments",
            "payments",
            "part-09003.parquet",
            with_values(payment, payment_id="BAD-ORPHAN", order_id="O-NEVER-EXPORTED"),
        ),
        "future_timestamp": world.write(
            "payments",
            "payments",
            "part-09004.parquet",
            with_values(payment, payment_id="BAD-FUTURE", paid_at=stamp),
        ),
        "oversized_string": world.write(
            "payments",
            "payments",
            "part-09005.parquet",
            with_values(payment, payment_id="P" * 100_000),
        ),
        "duplicate_key": world.write("payments", "payments", "part-09006.parquet", payment),
        "extra_column": world.write(
            "payments",
            "payments",
            "part-09007.parquet",
            with_values(payment, payment_id="OK-EXTRA").append_column("risk_hint", pa.array(["low"])),
        ),
        "late_file": world.write(
            "shop",
            "orders",
            "part-09008.parquet",
            with_values(order, order_id="OK-LATE", ordered_at=old_stamp),
        ),
        "empty_rows": world.write("payments", "payments", "part-09009.parquet", payment.slice(0, 0)),
        "zero_byte_file": "part-09010.parquet",
        "truncated_parquet": "part-09011.parquet",
        "garbage_parquet": "part-09012.parquet",
        "malformed_csv": csv_file(
            world,
            "part-09013.csv",
            b'CB-M1,x,2025-01-01T00:00:00Z\nCB-M2,"broken,quote,2025-01-01T00:00:00Z,10.4,12.00,USD\n',
        ),
        "wrong_type": csv_file(
            world, "part-09014.csv", f"CB-T1,BAD-NEG,{old_stamp},10.4,12.x3,USD\n".encode()
        ),
        "invalid_utf8": csv_file(
            world, "part-09015.csv", f"CB-U1,x,{old_stamp},10.4,\xff12.00,USD\n".encode("latin-1")
        ),
    }
    folder = world.folder("payments", "payments")
    (folder / files["zero_byte_file"]).write_bytes(b"")
    real = sorted((world.landing / "payments" / "payments").glob("date=*/part-00000.parquet"))[0].read_bytes()
    (folder / files["truncated_parquet"]).write_bytes(real[: len(real) // 2])
    (folder / files["garbage_parquet"]).write_bytes(b"PAR1" + bytes(range(256)) * 8 + b"PAR1")
    return files


@dataclass(frozen=True)
class FaultyWorld:
    env: DbtEnv
    world: World
    files: dict[str, str]
    extra_columns: dict[str, tuple[str, ...]]

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        with duckdb.connect(str(self.env.database), read_only=True) as con:
            return con.execute(sql, params or []).fetchall()


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> FaultyWorld:
    root = tmp_path_factory.mktemp("faulty")
    landing, oracle = generate_world(root, **WORLD)
    shutil.rmtree(oracle)
    day = max(date.fromisoformat(p.name[5:]) for p in (landing / "payments" / "payments").glob("date=*"))
    env = DbtEnv(landing, root / "warehouse.duckdb", root)
    world = World(landing, env.rejected_dir, day)
    files = plant_all(world)
    inventory = take_inventory(load_contract(), landing, env.rejected_dir)
    # the ML layer's tables, empty, as on a terminal user's fresh build; then every data test passes,
    # reconciliation's included
    env.in_process("ml tables", "dbt build")
    return FaultyWorld(env, world, files, inventory.extra_columns)


ROW_DEFECTS = {
    "negative_amount": ("payments", "non_positive_amount"),
    "absurd_amount": ("payments", "absurd_amount"),
    "unknown_foreign_key": ("payments", "orphan_order_id"),
    "future_timestamp": ("payments", "timestamp_after_export"),
    "oversized_string": ("payments", "oversized_value:payment_id"),
    "malformed_csv": ("chargebacks", "malformed_csv_line"),
    "wrong_type": ("chargebacks", "invalid_amount"),
}


@pytest.mark.parametrize("kind", ROW_DEFECTS)
def test_bad_rows_are_quarantined_with_their_reason(faulty: FaultyWorld, kind: str) -> None:
    table, reason = ROW_DEFECTS[kind]
    rows = faulty.query(
        "select source_table, reason, loaded_on, source_row from quarantine.rejected_rows "
        "where source_file like ?",
        [f"%/{faulty.files[kind]}"],
    )
    assert rows, f"{kind}: nothing quarantined from {faulty.files[kind]}"
    assert {(t, r, d) for t, r, d, _ in rows} == {(table, reason, faulty.world.day)}
    assert all(row for *_, row in rows)  # the row is kept exactly as sent


FILE_DEFECTS = {
    "zero_byte_file": ("payments", "empty_file"),
    "truncated_parquet": ("payments", "unreadable_parquet"),
    "garbage_parquet": ("payments", "unreadable_parquet"),
    "invalid_utf8": ("chargebacks", "invalid_utf8"),
}


@pytest.mark.parametrize("kind", FILE_DEFECTS)
def test_unreadable_files_are_moved_to_the_rejected_zone_and_listed(faulty: FaultyWorld, kind: str) -> None:
    table, reason = FILE_DEFECTS[kind]
    (row,) = faulty.query(
        "select source_table, reason, loaded_on, landing_file, rejected_file from quarantine.rejected_files "
        "where landing_file like ?",
        [f"%/{faulty.files[kind]}"],
    )
    assert row[:3] == (table, reason, faulty.world.day)
    assert not Path(row[3]).exists() and Path(row[4]).exists()  # moved, not deleted


def test_a_resent_row_is_counted_as_a_duplicate_and_staged_once(faulty: FaultyWorld) -> None:
    (payment_id, duplicate) = faulty.query(
        "select payment_id, _is_duplicate from staging.base_payments__payments where _source_file like ?",
        [f"%/{faulty.files['duplicate_key']}"],
    )[0]
    assert duplicate
    staged = faulty.query(
        "select count(*) from staging.stg_payments__payments where payment_id = ?", [payment_id]
    )
    assert staged == [(1,)]


def test_an_extra_column_is_tolerated_and_reported(faulty: FaultyWorld) -> None:
    reported = {Path(path).name: columns for path, columns in faulty.extra_columns.items()}
    assert reported == {faulty.files["extra_column"]: ("risk_hint",)}
    assert faulty.query("select count(*) from marts.fct_payments where payment_id = 'OK-EXTRA'") == [(1,)]


def test_a_late_file_is_loaded_with_the_day_it_arrived(faulty: FaultyWorld) -> None:
    (loaded_on, ordered_on) = faulty.query(
        "select loaded_on, cast(ordered_at as date) from marts.fct_orders where order_id = 'OK-LATE'"
    )[0]
    assert loaded_on == faulty.world.day and ordered_on == faulty.world.day - timedelta(days=30)


def test_an_empty_file_adds_nothing_and_breaks_nothing(faulty: FaultyWorld) -> None:
    assert faulty.query(
        "select count(*) from staging.base_payments__payments where _source_file like ?",
        [f"%/{faulty.files['empty_rows']}"],
    ) == [(0,)]


def test_the_books_balance_for_every_table(faulty: FaultyWorld) -> None:
    rows = faulty.query(
        "select landing_table, landing_rows, staged_rows + duplicate_rows + quarantined_rows, rejected_files "
        "from audit.reconciliation order by 1"
    )
    assert len(rows) == 10 and all(landing == accounted for _, landing, accounted, _ in rows)
    rejected = {table: files for table, _, _, files in rows if files}
    assert rejected == {"payments.payments": 3, "disputes.chargebacks": 1}


# Structural breaks: the inventory stops with the file and the column named.


def one_file_landing(root: Path, table: str, data: pa.Table) -> Path:
    folder = root / "landing" / "payments" / table / "date=2025-03-01"
    folder.mkdir(parents=True)
    pq.write_table(data, folder / "part-00000.parquet")
    return folder / "part-00000.parquet"


def payments_table() -> list:
    return [t for t in load_contract() if (t.system, t.table) == ("payments", "payments")]


def a_payment() -> pa.Table:
    """One payment on contract: every column a string except the decimal amount."""
    columns = {c.name: c.data_type for c in payments_table()[0].columns}
    values = {
        name: pa.array([Decimal("10.00")], pa.decimal128(12, 2))
        if kind.startswith("decimal")
        else pa.array(["x"])
        for name, kind in columns.items()
    }
    return pa.table(values)


def test_a_missing_required_column_stops_the_inventory_naming_file_and_column(tmp_path: Path) -> None:
    path = one_file_landing(tmp_path, "payments", a_payment().drop_columns(["currency"]))
    with pytest.raises(ContractError, match=f"{path}: required column 'currency' is missing"):
        take_inventory(payments_table(), tmp_path / "landing", tmp_path / "rejected")


def test_a_retyped_required_column_stops_the_inventory_naming_file_and_column(tmp_path: Path) -> None:
    data = a_payment()
    data = data.set_column(data.schema.get_field_index("amount"), "amount", pa.array(["10.00"]))
    path = one_file_landing(tmp_path, "payments", data)
    with pytest.raises(ContractError, match=f"{path}: column 'amount' is string, the contract says decimal"):
        take_inventory(payments_table(), tmp_path / "landing", tmp_path / "rejected")


def test_a_changed_csv_header_stops_the_inventory(tmp_path: Path) -> None:
    folder = tmp_path / "landing" / "disputes" / "chargebacks" / "date=2025-03-01"
    folder.mkdir(parents=True)
    (folder / "part-00000.csv").write_text("chargeback_id,payment_id,received_at,amount,currency\n")
    tables = [t for t in load_contract() if t.table == "chargebacks"]
    with pytest.raises(ContractError, match="required column 'reason_code' is missing"):
        take_inventory(tables, tmp_path / "landing", tmp_path / "rejected")


# Property: whatever mix of row defects arrives, every row is accounted for.

MUTATIONS = {
    "null_required": {"amount": None},
    "negative_amount": {"amount": Decimal("-1.00")},
    "absurd_amount": {"amount": Decimal("9999999999.00")},  # above the cap in every currency
    "unknown_currency": {"currency": "XXX"},
    "orphan_order": {"order_id": "O-UNKNOWN"},
    "no_utc_offset": {"paid_at": "2025-02-01 10:00:00"},
    "future_timestamp": {"paid_at": "2031-01-01T00:00:00Z"},
    "bad_channel": {"channel": "carrier-pigeon"},
}


@settings(
    max_examples=3,
    deadline=None,
    derandomize=True,  # the same three mixes on every machine: CI never flakes on a new example
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    defects=st.lists(
        st.tuples(st.sampled_from(sorted(MUTATIONS)), st.integers(min_value=0, max_value=49)),
        min_size=1,
        max_size=12,
    ),
    resends=st.integers(min_value=0, max_value=5),
)
def test_any_mix_of_row_defects_is_accounted_for(
    faulty: FaultyWorld, tmp_path_factory: pytest.TempPathFactory, defects: list, resends: int
) -> None:
    root = tmp_path_factory.mktemp("mix")
    landing = root / "landing"
    shutil.copytree(faulty.env.landing_dir, landing, copy_function=os.link)
    shutil.copy(faulty.env.database, root / "warehouse.duckdb")
    env = DbtEnv(landing, root / "warehouse.duckdb", root)
    world = World(landing, env.rejected_dir, faulty.world.day)
    first = sorted((landing / "payments" / "payments").glob("date=*/part-00000.parquet"))[0]
    staged = {pid for (pid,) in faulty.query("select payment_id from staging.stg_payments__payments")}
    sample = pq.read_table(first)
    sample = sample.filter(pa.array([pid in staged for pid in sample["payment_id"].to_pylist()]))
    rows = [
        with_values(sample.slice(index % sample.num_rows, 1), payment_id=f"MIX-{n}", **MUTATIONS[kind])
        for n, (kind, index) in enumerate(defects)
    ]
    rows += [sample.slice(i % sample.num_rows, 1) for i in range(resends)]  # re-sent as they were
    world.write("payments", "payments", "part-09500.parquet", pa.concat_tables(rows))
    env.dbt(
        "build",
        "--select",
        "base_payments__payments stg_payments__payments audit__quarantined_rows audit__reconciliation",
        "--indirect-selection",
        "cautious",  # the tests of these models only, not those of marts built on them
    )
    with duckdb.connect(str(env.database), read_only=True) as con:
        landing_rows, staged, duplicates, quarantined = con.sql(
            "select landing_rows, staged_rows, duplicate_rows, quarantined_rows from audit.reconciliation "
            "where landing_table = 'payments.payments'"
        ).fetchone()
        from_file = con.execute(
            "select count(*) filter (where _dq_reason is not null), count(*) filter (where _is_duplicate) "
            "from staging.base_payments__payments where _source_file like '%/part-09500.parquet'"
        ).fetchone()
    assert landing_rows == staged + duplicates + quarantined
    assert from_file == (len(defects), resends)
