"""Tests of the landing-zone simulator: determinism, knobs, layout, signal and defect sanity, CLI."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from simulator import ConfigError, GenerationSummary, SimConfig, generate
from tests.simulator.hashing import tree_hashes

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "seeds"

# Columns per table, copied from docs/landing-contract.md (independent of simulator.schema).
CONTRACT: dict[str, tuple[str, str, list[str]]] = {
    "customers": (
        "crm",
        "parquet",
        [
            "customer_id",
            "full_name",
            "email",
            "phone",
            "country_code",
            "signed_up_at",
            "updated_at",
            "marketing_opt_in",
        ],
    ),
    "products": (
        "catalog",
        "parquet",
        ["product_id", "product_name", "category_id", "brand", "launched_on", "list_price"],
    ),
    "product_prices": ("catalog", "parquet", ["product_id", "list_price", "valid_from"]),
    "promotions": (
        "marketing",
        "parquet",
        ["promotion_id", "product_id", "store_id", "starts_on", "ends_on", "discount_pct"],
    ),
    "orders": (
        "shop",
        "parquet",
        ["order_id", "customer_id", "store_id", "channel", "ordered_at", "order_status"],
    ),
    "order_items": (
        "shop",
        "parquet",
        ["order_id", "line_number", "product_id", "quantity", "unit_price", "currency"],
    ),
    "payments": (
        "payments",
        "parquet",
        [
            "payment_id",
            "order_id",
            "customer_id",
            "card_fingerprint",
            "device_id",
            "amount",
            "currency",
            "paid_at",
            "channel",
            "merchant_category_code",
            "ip_country",
            "payment_status",
        ],
    ),
    "cards": (
        "payments",
        "parquet",
        ["card_fingerprint", "customer_id", "card_brand", "card_type", "issuing_country", "first_seen_at"],
    ),
    "devices": ("payments", "parquet", ["device_id", "device_type", "os", "first_seen_at"]),
    "chargebacks": (
        "disputes",
        "csv",
        ["chargeback_id", "payment_id", "received_at", "reason_code", "amount", "currency"],
    ),
}
KEYS = {
    "customers": ["customer_id", "updated_at"],
    "products": ["product_id"],
    "product_prices": ["product_id", "valid_from"],
    "promotions": ["promotion_id"],
    "orders": ["order_id"],
    "order_items": ["order_id", "line_number"],
    "payments": ["payment_id"],
    "cards": ["card_fingerprint"],
    "devices": ["device_id"],
    "chargebacks": ["chargeback_id"],
}
TIMESTAMPS = {
    "customers": ["signed_up_at", "updated_at"],
    "orders": ["ordered_at"],
    "payments": ["paid_at"],
    "cards": ["first_seen_at"],
    "devices": ["first_seen_at"],
    "chargebacks": ["received_at"],
}
LOCAL_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$")
FILE_PATH = re.compile(
    r"^(?P<system>[a-z]+)/(?P<table>[a-z_]+)/date=(?P<date>\d{4}-\d{2}-\d{2})/part-\d{5}\.(parquet|csv)$"
)


def tiny(base: Path, **overrides) -> SimConfig:
    """A small world that generates in well under a second or two."""
    knobs = {
        "out_dir": base / "landing",
        "oracle_dir": base / "oracle",
        "seeds_dir": SEEDS,
        "seed": 7,
        "start": date(2025, 1, 1),
        "days": 20,
        "customers": 1_500,
        "stores": 2,
        "products": 20,
        "payments_per_day": 150,
        "defect_rate": 0.0,
        "progress": False,
    }
    knobs.update(overrides)
    return SimConfig(**knobs)


def files_of(landing: Path, table: str) -> list[Path]:
    system, fmt, _ = CONTRACT[table]
    return sorted((landing / system / table).glob(f"date=*/part-*.{fmt}"))


def partition_date(path: Path) -> date:
    return date.fromisoformat(path.parent.name.removeprefix("date="))


def read_table(landing: Path, table: str) -> pa.Table:
    """All parquet files of a table with an extra `_load_date` column."""
    parts = []
    for path in files_of(landing, table):
        t = pq.read_table(path)
        parts.append(
            t.append_column("_load_date", pa.array([partition_date(path)] * t.num_rows, pa.date32()))
        )
    return pa.concat_tables(parts)


def read_chargeback_lines(landing: Path) -> list[tuple[date, list[str]]]:
    rows = []
    for path in files_of(landing, "chargebacks"):
        lines = path.read_text(encoding="utf-8").split("\n")
        assert lines[-1] == "", "CSV must end with a newline"
        for line in lines[1:-1]:
            rows.append((partition_date(path), next(csv.reader(io.StringIO(line))) if line else []))
    return rows


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> tuple[SimConfig, GenerationSummary]:
    """A clean (defect_rate=0) world big enough for fraud statistics."""
    config = tiny(tmp_path_factory.mktemp("clean"), days=60, customers=3_000, stores=3, payments_per_day=400)
    return config, generate(config)


@pytest.fixture(scope="module")
def dirty(tmp_path_factory) -> tuple[SimConfig, GenerationSummary]:
    config = tiny(tmp_path_factory.mktemp("dirty"), days=45, payments_per_day=300, defect_rate=0.05)
    return config, generate(config)


# --- determinism ---------------------------------------------------------------------------------


def test_same_config_gives_identical_bytes(tmp_path: Path) -> None:
    first = tiny(tmp_path / "a", defect_rate=0.01)
    second = dataclasses.replace(
        first, out_dir=tmp_path / "b" / "landing", oracle_dir=tmp_path / "b" / "oracle"
    )
    generate(first)
    generate(second)
    for a, b in ((first.out_dir, second.out_dir), (first.oracle_dir, second.oracle_dir)):
        hashes_a, hashes_b = tree_hashes(a), tree_hashes(b)
        assert hashes_a, f"nothing written under {a}"
        assert hashes_a == hashes_b


def test_rerun_into_same_directory_recreates_identical_tree(tmp_path: Path) -> None:
    config = tiny(tmp_path, days=5)
    generate(config)
    before = tree_hashes(config.out_dir)
    (config.out_dir / "stray.txt").write_text("left over from an earlier run")
    generate(config)
    assert tree_hashes(config.out_dir) == before


def test_different_seed_gives_different_bytes(tmp_path: Path) -> None:
    a = tiny(tmp_path / "a", days=5)
    b = tiny(tmp_path / "b", days=5, seed=8)
    generate(a)
    generate(b)
    pay_a = {p: h for p, h in tree_hashes(a.out_dir).items() if p.startswith("payments/payments")}
    pay_b = {p: h for p, h in tree_hashes(b.out_dir).items() if p.startswith("payments/payments")}
    assert pay_a and pay_b
    assert not set(pay_a.values()) & set(pay_b.values())


# --- scale knobs ---------------------------------------------------------------------------------


def test_scale_knobs_move_row_counts(tmp_path: Path) -> None:
    base = generate(tiny(tmp_path / "base"))
    more_days = generate(tiny(tmp_path / "days", days=40))
    more_payments = generate(tiny(tmp_path / "ppd", payments_per_day=300))
    more_customers = generate(tiny(tmp_path / "cust", customers=4_000))
    # The demand model is normalised so that expected orders (= payments) per day average
    # payments-per-day over the simulated period; realised counts add Poisson-gamma noise of a few
    # percent at these sizes, and fraud campaigns are Poisson too. 15 % bounds all of that comfortably.
    for summary, ppd, days in ((base, 150, 20), (more_days, 150, 40), (more_payments, 300, 20)):
        assert summary.payments == summary.rows["payments"]
        assert abs(summary.payments / (ppd * days) - 1) < 0.15, (summary.payments, ppd, days)
    assert 1.7 < more_days.payments / base.payments < 2.3
    assert 1.7 < more_payments.payments / base.payments < 2.3
    assert more_customers.rows["customers"] > 2 * base.rows["customers"]
    assert more_days.rows["chargebacks"] > base.rows["chargebacks"]


def test_stores_knob_selects_first_physical_stores_plus_online(clean) -> None:
    config, _ = clean
    orders = read_table(config.out_dir, "orders")
    assert set(orders.column("store_id").to_pylist()) == {"S000", "S001", "S002", "S003"}
    online = pc.equal(orders.column("store_id"), "S000")
    assert set(orders.filter(online).column("channel").to_pylist()) == {"online"}
    assert set(orders.filter(pc.invert(online)).column("channel").to_pylist()) == {"in_store"}


# --- layout ----------------------------------------------------------------------------------------


def test_layout_and_contract_columns(dirty) -> None:
    config, summary = dirty
    landing = config.out_dir
    seen_tables = set()
    n_files = 0
    for path in sorted(p for p in landing.rglob("*") if p.is_file()):
        rel = path.relative_to(landing).as_posix()
        match = FILE_PATH.match(rel)
        assert match, f"unexpected file {rel}"
        table = match["table"]
        system, fmt, columns = CONTRACT[table]
        assert match["system"] == system and path.suffix == f".{fmt}"
        assert config.start <= date.fromisoformat(match["date"]) <= config.end
        if fmt == "parquet":
            assert pq.read_schema(path).names == columns, rel
        else:
            assert path.read_text(encoding="utf-8").split("\n", 1)[0] == ",".join(columns)
        seen_tables.add(table)
        n_files += 1
    assert seen_tables == set(CONTRACT)
    assert n_files == summary.total_files
    for folder in landing.rglob("date=*"):
        assert any(folder.iterdir()), "days with nothing to export have no folder"


def test_parquet_types_follow_contract(clean) -> None:
    config, _ = clean
    money = pa.decimal128(12, 2)
    expected = {
        ("products", "launched_on"): pa.date32(),
        ("products", "list_price"): money,
        ("product_prices", "valid_from"): pa.date32(),
        ("product_prices", "list_price"): money,
        ("promotions", "starts_on"): pa.date32(),
        ("promotions", "ends_on"): pa.date32(),
        ("promotions", "discount_pct"): pa.float64(),
        ("order_items", "line_number"): pa.int32(),
        ("order_items", "quantity"): pa.int32(),
        ("order_items", "unit_price"): money,
        ("payments", "amount"): money,
        ("customers", "marketing_opt_in"): pa.bool_(),
    }
    for table in CONTRACT:
        if CONTRACT[table][1] != "parquet":
            continue
        schema = pq.read_schema(files_of(config.out_dir, table)[0])
        for name in schema.names:
            want = expected.get((table, name), pa.string())
            assert schema.field(name).type == want, (table, name)


def test_no_truth_columns_in_landing(clean) -> None:
    config, _ = clean
    for table in CONTRACT:
        for path in files_of(config.out_dir, table)[:1]:
            names = (
                pq.read_schema(path).names if path.suffix == ".parquet" else path.read_text().split("\n")[0]
            )
            assert "fraud" not in str(names).lower() and "expected" not in str(names).lower()


# --- signal sanity -------------------------------------------------------------------------------


def test_fraud_rate_among_authorized_payments(clean) -> None:
    config, summary = clean
    oracle = pq.read_table(config.oracle_dir / "payments.parquet")
    payments = read_table(config.out_dir, "payments")
    assert oracle.num_rows == payments.num_rows == summary.payments
    authorized = set(
        payments.filter(pc.equal(payments.column("payment_status"), "authorized"))["payment_id"].to_pylist()
    )
    truth = dict(zip(oracle["payment_id"].to_pylist(), oracle["is_fraud"].to_pylist(), strict=True))
    rate = sum(truth[p] for p in authorized) / len(authorized)
    assert 0.005 <= rate <= 0.02
    assert rate == pytest.approx(summary.fraud_rate)
    assert oracle.schema.field("paid_at").type == pa.timestamp("ms", tz="UTC")
    p = oracle["fraud_probability"].to_numpy()
    assert ((p >= 0) & (p <= 1)).all()


def test_chargebacks_arrive_1_to_90_days_after_payment(clean) -> None:
    config, _ = clean
    payments = read_table(config.out_dir, "payments")
    paid_on = dict(zip(payments["payment_id"].to_pylist(), payments["_load_date"].to_pylist(), strict=True))
    status = dict(
        zip(payments["payment_id"].to_pylist(), payments["payment_status"].to_pylist(), strict=True)
    )
    oracle = pq.read_table(config.oracle_dir / "payments.parquet")
    fraud = {
        p for p, f in zip(oracle["payment_id"].to_pylist(), oracle["is_fraud"].to_pylist(), strict=True) if f
    }
    rows = read_chargeback_lines(config.out_dir)
    assert len(rows) > 50
    reasons = {
        r["reason_code"]: r["is_fraud"] == "true"
        for r in csv.DictReader((SEEDS / "chargeback_reasons.csv").open())
    }
    for received, fields in rows:
        assert len(fields) == 6
        payment_id, reason = fields[1], fields[3]
        assert 1 <= (received - paid_on[payment_id]).days <= 90
        assert status[payment_id] == "authorized"
        assert reasons[reason] == (payment_id in fraud)


def test_clean_data_has_no_duplicates_nulls_or_odd_timestamps(clean) -> None:
    config, _ = clean
    assert all(not kinds for kinds in json.loads((config.oracle_dir / "defects.json").read_text()).values())
    for table, keys in KEYS.items():
        if CONTRACT[table][1] == "csv":
            lines = [fields for _, fields in read_chargeback_lines(config.out_dir)]
            assert all(len(f) == 6 and f[0] and f[1] for f in lines)
            assert len({f[0] for f in lines}) == len(lines)
            assert all(LOCAL_ISO.match(f[2]) for f in lines)
            continue
        data = read_table(config.out_dir, table)
        for key in keys:
            assert data[key].null_count == 0, (table, key)
        assert len(set(zip(*(data[k].to_pylist() for k in keys), strict=True))) == data.num_rows, table
        for column in TIMESTAMPS.get(table, []):
            assert all(LOCAL_ISO.match(v) for v in data[column].to_pylist()), (table, column)
    items = read_table(config.out_dir, "order_items")
    assert pc.min(items["quantity"]).as_py() >= 1
    assert set(items["currency"].to_pylist()) <= {
        "USD",
        "EUR",
        "GBP",
        "CAD",
        "BRL",
        "INR",
        "NGN",
        "RUB",
        "CNY",
        "RON",
        "VND",
    }


def test_clean_data_is_referentially_consistent(clean) -> None:
    config, _ = clean
    orders = read_table(config.out_dir, "orders")
    items = read_table(config.out_dir, "order_items")
    payments = read_table(config.out_dir, "payments")
    products = set(read_table(config.out_dir, "products")["product_id"].to_pylist())
    order_ids = set(orders["order_id"].to_pylist())
    assert set(payments["order_id"].to_pylist()) == order_ids
    assert set(items["order_id"].to_pylist()) == order_ids
    assert set(items["product_id"].to_pylist()) <= products
    # amount = sum(quantity * unit_price) of the order's lines, in the same currency
    totals: dict[str, int] = {}
    for oid, qty, price in zip(
        items["order_id"].to_pylist(),
        items["quantity"].to_pylist(),
        items["unit_price"].to_pylist(),
        strict=True,
    ):
        totals[oid] = totals.get(oid, 0) + qty * price
    assert all(
        totals[o] == a
        for o, a in zip(payments["order_id"].to_pylist(), payments["amount"].to_pylist(), strict=True)
    )
    customers = set(read_table(config.out_dir, "customers")["customer_id"].to_pylist())
    assert {c for c in payments["customer_id"].to_pylist() if c is not None} <= customers
    assert set(payments["card_fingerprint"].to_pylist()) <= set(
        read_table(config.out_dir, "cards")["card_fingerprint"].to_pylist()
    )
    assert all(
        len(c) == 64 and re.fullmatch("[0-9a-f]{64}", c)
        for c in payments["card_fingerprint"].to_pylist()[:500]
    )


def test_local_time_offsets_follow_dst(tmp_path: Path) -> None:
    summer = tiny(tmp_path / "s", start=date(2025, 7, 1), days=2, stores=1)
    winter = tiny(tmp_path / "w", start=date(2025, 1, 6), days=2, stores=1)
    for config, offset in ((summer, "-04:00"), (winter, "-05:00")):
        generate(config)
        orders = read_table(config.out_dir, "orders")
        new_york = orders.filter(pc.equal(orders["store_id"], "S001"))["ordered_at"].to_pylist()
        assert new_york and all(v.endswith(offset) for v in new_york)
        assert all(9 <= int(v[11:13]) < 21 for v in new_york)


def test_defects_produce_quarantine_worthy_rows(dirty) -> None:
    config, _ = dirty
    defects = json.loads((config.oracle_dir / "defects.json").read_text())
    assert set(defects) == set(CONTRACT)
    lines = read_chargeback_lines(config.out_dir)
    malformed = [f for _, f in lines if len(f) != 6]
    assert malformed, "expected at least one malformed CSV line"
    cb = defects["chargebacks"]
    assert cb.get("malformed_wrong_field_count", 0) + cb.get("malformed_garbage_line", 0) >= 1
    payments = read_table(config.out_dir, "payments")
    ids = [p for p in payments["payment_id"].to_pylist() if p is not None]
    assert len(ids) > len(set(ids)), "expected re-sent duplicate payments"
    assert payments["payment_id"].null_count + payments["amount"].null_count > 0
    assert pc.min(payments["amount"]).as_py() < 0
    assert {"XXX", "ZZZ"} & set(payments["currency"].to_pylist())
    paid_at = [v for v in payments["paid_at"].to_pylist()]
    assert any(not LOCAL_ISO.match(v) for v in paid_at)
    assert any(v.endswith("Z") for v in paid_at)
    items = read_table(config.out_dir, "order_items")
    assert {0, -1, -2, 100_000} & set(items["quantity"].to_pylist())
    parts = {p.name for p in files_of(config.out_dir, "payments")}
    assert "part-00001.parquet" in parts, "expected late files or re-sends"
    assert defects["payments"]["late_rows"] > 0 and defects["payments"]["orphan_order_id"] > 0


def test_zero_defect_rate_is_clean_even_with_other_knobs(tmp_path: Path) -> None:
    config = tiny(tmp_path, days=8, defect_rate=0.0, seed=11)
    generate(config)
    assert all(
        p.name == "part-00000.parquet" or p.name == "part-00000.csv" for p in config.out_dir.rglob("part-*")
    )


def test_file_sink_reports_a_dead_writer_process(tmp_path: Path) -> None:
    from simulator.sink import FileSink

    sink = FileSink()
    sink._process.kill()
    sink._process.wait()
    table = pa.table({"a": list(range(50_000))})
    with pytest.raises(RuntimeError, match="file writer process failed"):
        for i in range(200):
            sink.submit("parquet", table, tmp_path / f"x{i}.parquet")
        sink.close()


# --- validation and CLI ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"stores": 99}, "stores"),
        ({"days": 0}, "days"),
        ({"payments_per_day": -5}, "payments-per-day"),
        ({"defect_rate": -0.1}, "defect-rate"),
        ({"start": date(2023, 6, 1)}, "holidays.csv coverage"),
        ({"start": date(2027, 12, 1), "days": 60}, "holidays.csv coverage"),
        ({"customers": 0}, "customers"),
    ],
)
def test_invalid_knobs_are_rejected(tmp_path: Path, overrides: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        generate(tiny(tmp_path, **overrides))
    assert not (tmp_path / "landing").exists(), "nothing may be deleted or written for an invalid config"


def test_cli_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "simulator", "generate", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    for knob in (
        "--out",
        "--oracle-out",
        "--seed",
        "--start",
        "--days",
        "--customers",
        "--stores",
        "--products",
    ):
        assert knob in result.stdout
    assert "--payments-per-day" in result.stdout and "--defect-rate" in result.stdout


def test_cli_generates_and_reports(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "simulator",
            "generate",
            "--out",
            str(tmp_path / "landing"),
            "--oracle-out",
            str(tmp_path / "oracle"),
            "--seeds-dir",
            str(SEEDS),
            "--days",
            "3",
            "--customers",
            "300",
            "--payments-per-day",
            "50",
            "--no-progress",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "payments" in result.stdout and "fraud rate" in result.stdout
    assert (tmp_path / "oracle" / "demand.parquet").is_file()
    bad = subprocess.run(
        [sys.executable, "-m", "simulator", "generate", "--stores", "50", "--out", str(tmp_path / "x")],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "stores" in bad.stderr
