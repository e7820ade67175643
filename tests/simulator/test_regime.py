"""Tests of the simulator's regime-change knob: a new fraud pattern and a demand shock from a given day on.

Drift monitoring and retraining tests rely on two promises: without the knob the simulator writes
exactly what it wrote before the knob existed, and with it the days before the change stay the same
while the days after it show the new pattern clearly.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from simulator import ConfigError, RegimeChange, SimConfig, generate
from simulator.__main__ import main
from simulator.config import validate
from simulator.demand import SHOCK_CATEGORY, SHOCK_WEEK
from simulator.reference import load_reference
from simulator.world import build_world
from tests.simulator.hashing import tree_hashes

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "seeds"
START = date(2025, 1, 1)
CHANGE = date(2025, 1, 22)  # day index 21 of 42
# Content digests (landing, oracle) of `world()` without the knob, computed with the simulator as it
# was before the knob existed (commit 387b668). If the simulator's output changes on purpose, update
# them; if they change by accident, the knob leaked into the default output. Floats are digested to
# 12 significant digits: numpy's exp and log differ in the last bits between CPUs (the oracle's
# fraud_probability digested exactly matched on the machine that pinned it and not on an AMD EPYC
# without AVX-512, for the same simulator), while a changed random stream changes every digit.
KNOB_OFF_DIGESTS = (
    "8d5e78aaec136f6e768987040b6a090af2c542e3974caf4a275e7c8f4abea029",
    "32617117f3d9342f70dfcf8253c151b7ab6921fdd348ae7749c15a2021993bfd",
)
FLOAT_DIGITS = 12


def world(base: Path, **overrides) -> SimConfig:
    """A small world (~400 payments/day, 42 days) that generates in a second or two."""
    knobs = {
        "out_dir": base / "landing",
        "oracle_dir": base / "oracle",
        "seeds_dir": SEEDS,
        "seed": 7,
        "start": START,
        "days": 42,
        "customers": 2_000,
        "stores": 2,
        "products": 20,
        "payments_per_day": 400,
        "defect_rate": 0.002,
        "progress": False,
    }
    knobs.update(overrides)
    return SimConfig(**knobs)


def content_digest(root: Path) -> str:
    """A digest of the decoded contents (not the bytes: a pyarrow upgrade may change parquet metadata),
    floats to FLOAT_DIGITS significant digits."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode())
        if path.suffix == ".parquet":
            columns = {
                name: [float(f"{v:.{FLOAT_DIGITS}g}") if isinstance(v, float) else v for v in values]
                for name, values in pq.read_table(path).to_pydict().items()
            }
            digest.update(repr(columns).encode())
        else:
            digest.update(path.read_bytes())
    return digest.hexdigest()


def partition_date(relative: str) -> date | None:
    for part in Path(relative).parts:
        if part.startswith("date="):
            return date.fromisoformat(part.removeprefix("date="))
    return None


def read_payments(landing: Path) -> list[dict]:
    """Every landed payment row (deduplicated by payment_id) with its partition date as `day`."""
    rows: dict[str, dict] = {}
    for path in sorted((landing / "payments" / "payments").glob("date=*/part-*.parquet")):
        day = date.fromisoformat(path.parent.name.removeprefix("date="))
        for row in pq.read_table(path).to_pylist():
            if row["payment_id"] is not None:
                rows.setdefault(row["payment_id"], {**row, "day": day})
    return list(rows.values())


@pytest.fixture(scope="module")
def off(tmp_path_factory) -> SimConfig:
    config = world(tmp_path_factory.mktemp("off"))
    generate(config)
    return config


@pytest.fixture(scope="module")
def on(tmp_path_factory) -> SimConfig:
    config = world(tmp_path_factory.mktemp("on"), regime_change=RegimeChange(CHANGE))
    generate(config)
    return config


@pytest.fixture(scope="module")
def regime(on) -> dict:
    return json.loads((on.oracle_dir / "regime.json").read_text())


# --- knob off ------------------------------------------------------------------------------------------


def test_knob_off_writes_what_the_simulator_wrote_before_the_knob(off) -> None:
    # The default must not draw from the regime streams nor change any existing stream.
    assert off.regime_change is None
    assert (content_digest(off.out_dir), content_digest(off.oracle_dir)) == KNOB_OFF_DIGESTS
    assert not (off.oracle_dir / "regime.json").exists()
    assert not (off.oracle_dir / "regime_payments.parquet").exists()


# --- knob on: before the change --------------------------------------------------------------------------


def test_days_before_the_change_are_byte_identical(off, on) -> None:
    landing_off, landing_on = tree_hashes(off.out_dir), tree_hashes(on.out_dir)
    before_off = {p: h for p, h in landing_off.items() if partition_date(p) < CHANGE}
    before_on = {p: h for p, h in landing_on.items() if partition_date(p) < CHANGE}
    assert len(before_off) > 100
    assert before_on == before_off
    after_off = {p: h for p, h in landing_off.items() if partition_date(p) >= CHANGE}
    after_on = {p: h for p, h in landing_on.items() if partition_date(p) >= CHANGE}
    assert set(after_on.values()) != set(after_off.values())  # the knob did something after the day

    # The oracle writes one row group per day: the first 21 are the days before the change.
    days_before = (CHANGE - START).days
    for name in ("payments.parquet", "demand.parquet"):
        file_off, file_on = pq.ParquetFile(off.oracle_dir / name), pq.ParquetFile(on.oracle_dir / name)
        for group in range(days_before):
            assert file_on.read_row_group(group).equals(file_off.read_row_group(group)), (name, group)
        assert not file_on.read_row_group(days_before).equals(file_off.read_row_group(days_before))


# --- knob on: the fraud pattern ---------------------------------------------------------------------------


def test_fraud_pattern_appears_from_the_change_day(on, regime) -> None:
    pattern = regime["fraud_pattern"]
    assert pattern["campaign"] == "session_hijack"
    mcc = pattern["merchant_category_code"]
    by_day: dict[date, Counter] = {}
    for row in read_payments(on.out_dir):
        counts = by_day.setdefault(row["day"], Counter())
        counts["all"] += 1
        counts["mcc"] += row["merchant_category_code"] == mcc
    before = [c for d, c in by_day.items() if d < CHANGE]
    after = [c for d, c in by_day.items() if d >= CHANGE]
    assert len(before) == 21 and len(after) == 21

    def share(days: list[Counter], key: str) -> float:
        return sum(c[key] for c in days) / sum(c["all"] for c in days)

    # Before: the MCC never occurs; after: on every day.
    assert share(before, "mcc") == 0
    assert 0.08 < share(after, "mcc") < 0.16
    assert min(c["mcc"] / c["all"] for c in after) > 0.05


def test_fraud_pattern_pays_from_the_victims_own_country(on) -> None:
    """A residential proxy: the IP country is the one the customer's earlier online payments had."""
    ids = {r["payment_id"] for r in pq.read_table(on.oracle_dir / "regime_payments.parquet").to_pylist()}
    payments = sorted(read_payments(on.out_dir), key=lambda r: (r["day"], r["payment_id"]))
    usual_country: dict[str, Counter] = {}
    for row in payments:
        if row["day"] < CHANGE and row["ip_country"]:
            usual_country.setdefault(row["customer_id"], Counter())[row["ip_country"]] += 1
    pattern = [r for r in payments if r["payment_id"] in ids and r["customer_id"] in usual_country]
    assert len(pattern) > 50
    same = [r["ip_country"] == usual_country[r["customer_id"]].most_common(1)[0][0] for r in pattern]
    assert np.mean(same) > 0.9


def test_fraud_pattern_uses_established_accounts_usual_instruments_at_one_utc_hour(on, regime) -> None:
    hijacked = pq.read_table(on.oracle_dir / "regime_payments.parquet").to_pylist()
    ids = {r["payment_id"] for r in hijacked}
    hours = Counter(r["paid_at"].hour for r in hijacked)
    assert hours[5] / len(hijacked) > 0.95, hours  # settlement may push a few past 06:00
    assert min(r["paid_at"].date() for r in hijacked) >= CHANGE - timedelta(days=1)  # local vs UTC day

    payments = sorted(read_payments(on.out_dir), key=lambda r: (r["day"], r["payment_id"]))
    pattern = [r for r in payments if r["payment_id"] in ids]
    assert len(pattern) > 0.9 * len(ids)  # a few are late or defective
    assert {r["channel"] for r in pattern} == {"online"}
    # Their usual device and card: used by the same customer on an earlier day.
    earlier_devices = {(r["customer_id"], r["device_id"]) for r in payments if r["day"] < CHANGE}
    earlier_cards = {(r["customer_id"], r["card_fingerprint"]) for r in payments if r["day"] < CHANGE}
    usual = [
        (r["customer_id"], r["device_id"]) in earlier_devices
        and (r["customer_id"], r["card_fingerprint"]) in earlier_cards
        for r in pattern
    ]
    assert np.mean(usual) > 0.8
    # Established accounts: signed up at least 180 days before.
    signed_up: dict[str, datetime] = {}
    for path in (on.out_dir / "crm" / "customers").glob("date=*/part-*.parquet"):
        for row in pq.read_table(path, columns=["customer_id", "signed_up_at"]).to_pylist():
            if row["customer_id"] and row["signed_up_at"]:
                signed_up.setdefault(row["customer_id"], datetime.fromisoformat(row["signed_up_at"][:10]))
    ages = [
        (datetime(r["day"].year, r["day"].month, r["day"].day) - signed_up[r["customer_id"]]).days
        for r in pattern
        if r["customer_id"] in signed_up
    ]
    assert len(ages) > 0.9 * len(pattern)
    assert min(ages) >= 179


def test_fraud_pattern_is_fraud_and_gets_fraud_chargebacks(on, regime) -> None:
    hijacked = pq.read_table(on.oracle_dir / "regime_payments.parquet")
    assert set(hijacked.column("campaign").to_pylist()) == {"session_hijack"}
    truth = pq.read_table(on.oracle_dir / "payments.parquet")
    is_fraud = dict(
        zip(truth.column("payment_id").to_pylist(), truth.column("is_fraud").to_pylist(), strict=True)
    )
    rows = hijacked.to_pylist()
    assert all(is_fraud[r["payment_id"]] == r["is_fraud"] for r in rows)
    assert np.mean([r["is_fraud"] for r in rows]) > 0.8
    assert regime["fraud_pattern"]["payments"] == len(rows)

    fraud_reasons = {
        r["reason_code"]
        for r in csv.DictReader((SEEDS / "chargeback_reasons.csv").open())
        if r["is_fraud"].strip().lower() == "true"
    }
    reasons: dict[str, str] = {}
    for path in (on.out_dir / "disputes" / "chargebacks").glob("date=*/part-*.csv"):
        for row in csv.reader(path.read_text(encoding="utf-8").splitlines()[1:]):
            if len(row) == 6:
                reasons[row[1]] = row[3]
    authorized_fraud = [r["payment_id"] for r in rows if r["is_fraud"] and not r["is_declined"]]
    charged = [reasons[p] for p in authorized_fraud if p in reasons]
    # Labels arrive late as for any fraud (1-90 days); 21 days after the change most have arrived.
    assert len(charged) > 0.3 * len(authorized_fraud)
    assert np.mean([code in fraud_reasons for code in charged]) > 0.95


# --- knob on: the demand shock -----------------------------------------------------------------------------


def test_demand_shock_multiplies_expected_units_from_the_change_day(off, on) -> None:
    demand_off = pq.read_table(off.oracle_dir / "demand.parquet").to_pydict()
    demand_on = pq.read_table(on.oracle_dir / "demand.parquet").to_pydict()
    reference = load_reference(SEEDS)
    catalog = build_world(off, reference).catalog
    category = {
        f"P{p + 1:05d}": reference.category_names[c].strip().lower() for p, c in enumerate(catalog.category)
    }
    assert max(SHOCK_CATEGORY.values()) >= 1.5 and min(SHOCK_CATEGORY.values()) <= 0.7
    ratios_before, error, total = [], 0.0, 0.0
    for d, product, lam_off, lam_on in zip(
        demand_off["date"],
        demand_off["product_id"],
        demand_off["expected_units"],
        demand_on["expected_units"],
        strict=True,
    ):
        if d < CHANGE:
            ratios_before.append(lam_on == lam_off)
            continue
        expected = SHOCK_CATEGORY.get(category[product], 1.0) * SHOCK_WEEK[d.weekday()]
        assert lam_on == pytest.approx(lam_off * expected, rel=1e-9, abs=1e-12), (d, product)
        if d < CHANGE + timedelta(days=21):
            error, total = error + abs(lam_on - lam_off), total + lam_on
    assert all(ratios_before)
    # A forecaster that knew the old regime perfectly is off by a quarter or more for three weeks.
    assert error / total > 0.25


def test_demand_shock_moves_realized_units(off, on) -> None:
    reference = load_reference(SEEDS)
    catalog = build_world(off, reference).catalog
    factor = {
        f"P{p + 1:05d}": SHOCK_CATEGORY.get(reference.category_names[c].strip().lower(), 1.0)
        for p, c in enumerate(catalog.category)
    }

    def units_after(config: SimConfig) -> Counter:
        units: Counter = Counter()
        for path in (config.out_dir / "shop" / "order_items").glob("date=*/part-*.parquet"):
            if date.fromisoformat(path.parent.name.removeprefix("date=")) < CHANGE:
                continue
            table = pq.read_table(path, columns=["product_id", "quantity"]).to_pylist()
            for row in table:
                if row["product_id"] in factor and row["quantity"] is not None and 0 < row["quantity"] < 100:
                    units[factor[row["product_id"]]] += row["quantity"]
        return units

    before, after = units_after(off), units_after(on)
    up, down = max(factor.values()), min(factor.values())
    assert after[up] / before[up] > 1.5
    assert after[down] / before[down] < 0.8


# --- kinds are independent ------------------------------------------------------------------------------


def test_fraud_pattern_alone_leaves_demand_unchanged(off, tmp_path: Path) -> None:
    config = dataclasses.replace(
        off,
        out_dir=tmp_path / "landing",
        oracle_dir=tmp_path / "oracle",
        days=28,
        regime_change=RegimeChange(CHANGE, ("fraud_pattern",)),
    )
    short_off = dataclasses.replace(
        off, out_dir=tmp_path / "off" / "landing", oracle_dir=tmp_path / "off" / "oracle", days=28
    )
    generate(config)
    generate(short_off)
    regime = json.loads((config.oracle_dir / "regime.json").read_text())
    assert regime["kinds"] == ["fraud_pattern"] and "demand_shock" not in regime
    assert (
        tree_hashes(config.oracle_dir)["demand.parquet"]
        == tree_hashes(short_off.oracle_dir)["demand.parquet"]
    )


def test_demand_shock_alone_adds_no_fraud_pattern(off, tmp_path: Path) -> None:
    config = dataclasses.replace(
        off,
        out_dir=tmp_path / "landing",
        oracle_dir=tmp_path / "oracle",
        days=28,
        regime_change=RegimeChange(CHANGE, ("demand_shock",)),
    )
    generate(config)
    assert not (config.oracle_dir / "regime_payments.parquet").exists()
    codes = {r["merchant_category_code"] for r in read_payments(config.out_dir)}
    assert "5964" not in codes


# --- validation and CLI ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (RegimeChange(date(2024, 12, 31)), r"regime-change-day 2024-12-31 is outside the simulated range"),
        (
            RegimeChange(date(2025, 2, 12)),
            r"regime-change-day 2025-02-12 is outside .*2025-01-01\.\.2025-02-11",
        ),
        (RegimeChange(CHANGE, ("price_war",)), r"kinds must be among fraud_pattern, demand_shock.*price_war"),
        (RegimeChange(CHANGE, ()), r"needs at least one kind"),
        (RegimeChange(CHANGE, ("fraud_pattern", "fraud_pattern")), r"must not repeat"),
    ],
)
def test_invalid_regime_change_is_rejected(tmp_path: Path, change: RegimeChange, message: str) -> None:
    config = world(tmp_path, regime_change=change)
    with pytest.raises(ConfigError, match=message):
        validate(config, load_reference(SEEDS))


def test_regime_change_on_first_and_last_day_is_valid(tmp_path: Path) -> None:
    reference = load_reference(SEEDS)
    for day in (START, date(2025, 2, 11)):
        validate(world(tmp_path, regime_change=RegimeChange(day)), reference)


def test_regime_change_accepts_comma_separated_kinds() -> None:
    assert RegimeChange(CHANGE, "fraud_pattern, demand_shock").kinds == ("fraud_pattern", "demand_shock")
    assert RegimeChange(CHANGE).kinds == ("fraud_pattern", "demand_shock")


def test_cli_flags(tmp_path: Path, capsys) -> None:
    common = [
        "generate",
        "--seeds-dir",
        str(SEEDS),
        "--out",
        str(tmp_path / "landing"),
        "--oracle-out",
        str(tmp_path / "oracle"),
        "--days",
        "6",
        "--customers",
        "500",
        "--stores",
        "1",
        "--products",
        "10",
        "--payments-per-day",
        "100",
        "--no-progress",
    ]
    assert main([*common, "--regime-change-day", "2025-01-04"]) == 0  # all kinds by default
    regime = json.loads((tmp_path / "oracle" / "regime.json").read_text())
    assert regime["day"] == "2025-01-04" and regime["kinds"] == ["fraud_pattern", "demand_shock"]
    assert main([*common, "--regime-change-day", "2025-01-04", "--regime-change", "rain"]) == 2
    assert "unknown ['rain']" in capsys.readouterr().err
    assert main([*common, "--regime-change-day", "2025-03-01"]) == 2
    assert "outside the simulated range" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*common, "--regime-change", "demand_shock"])  # kinds without a day
