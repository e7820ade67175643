"""Point-in-time correctness of the feature models: build them on the landing zone truncated at T
and on the full landing zone; every row whose inputs had all landed by T must have identical
features. A feature that peeks at later data (a window that looks forward, a label used as a
feature, a promotion not yet published) makes this fail."""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ml.specs import load_specs
from tests.conftest import DbtEnv, generate_world

pytestmark = pytest.mark.slow

START = date(2025, 1, 1)
TRUNCATE_AT = START + timedelta(days=110)  # landing partitions before this day are kept
LABELS = {"fraud_chargeback_at", "units_sold", "has_actuals"}


def truncate(landing: Path, target: Path, before: date) -> None:
    for partition in landing.glob("*/*/date=*"):
        if date.fromisoformat(partition.name.removeprefix("date=")) < before:
            shutil.copytree(partition, target / partition.relative_to(landing))


def features(env: DbtEnv, relation: str, order: list[str]) -> pl.DataFrame:
    with duckdb.connect(str(env.database), read_only=True) as con:
        frame = con.sql(f"select * from {relation} order by {', '.join(order)}").pl()
    return frame.drop([c for c in frame.columns if c in LABELS])


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> tuple[DbtEnv, DbtEnv]:
    root = tmp_path_factory.mktemp("leakage")
    # no defects: late files would legitimately change what was known by T
    landing, _ = generate_world(
        root,
        seed=5,
        start=START,
        days=150,
        customers=900,
        stores=2,
        products=10,
        payments_per_day=150,
        defect_rate=0.0,
    )
    truncate(landing, root / "truncated", TRUNCATE_AT)
    envs = []
    for name, source in (("full", landing), ("truncated", root / "truncated")):
        env = DbtEnv(landing_dir=source, database=root / f"{name}.duckdb", work_dir=root / name)
        env.dbt(
            "build",
            "--select",
            "+feat_payment_fraud",
            "+feat_daily_demand",
            "--indirect-selection",
            "cautious",
        )
        envs.append(env)
    return envs[0], envs[1]


def test_fraud_features_before_the_cut_are_identical(builds: tuple[DbtEnv, DbtEnv]) -> None:
    full, truncated = builds
    # Exports are cut by local day: one day of margin keeps rows whose inputs all landed before T.
    compare_before = datetime.combine(TRUNCATE_AT, datetime.min.time()) - timedelta(days=1)
    old = features(truncated, "features.feat_payment_fraud", ["payment_id"]).filter(
        pl.col("paid_at") < compare_before
    )
    new = features(full, "features.feat_payment_fraud", ["payment_id"]).filter(
        pl.col("paid_at") < compare_before
    )
    assert old.height > 5000
    assert_frame_equal(old, new)


def test_demand_features_known_at_the_cut_are_identical(builds: tuple[DbtEnv, DbtEnv]) -> None:
    full, truncated = builds
    keys = ["store_id", "product_id", "forecast_date"]
    # The same day of margin as for payments: an order's business day can be the day before the
    # export it arrived in, so the last origin before T may still be incomplete in the truncated data.
    known = pl.col("origin_date") < TRUNCATE_AT - timedelta(days=1)
    old = features(truncated, "features.feat_daily_demand", keys).filter(known)
    new = features(full, "features.feat_daily_demand", keys).join(old.select(keys), on=keys, how="semi")
    # includes days after the cut: the rows a forecast made at T is scored on
    assert old["forecast_date"].max() >= TRUNCATE_AT + timedelta(days=11)
    assert old.height > 1000
    assert_frame_equal(old, new)


def test_the_comparison_can_fail(builds: tuple[DbtEnv, DbtEnv]) -> None:
    # Guards against a vacuous comparison: a leaky feature (the full build's label as a feature)
    # must differ between the two builds.
    full, truncated = builds
    spec = load_specs()["daily_demand"]
    keys = list(spec.entity_key)
    with duckdb.connect(str(truncated.database), read_only=True) as con:
        old = con.sql(
            f"select {', '.join(keys)}, units_sold from features.feat_daily_demand order by 1, 2, 3"
        ).pl()
    with duckdb.connect(str(full.database), read_only=True) as con:
        new = con.sql(
            f"select {', '.join(keys)}, units_sold from features.feat_daily_demand order by 1, 2, 3"
        ).pl()
    new = new.join(old.select(keys), on=keys, how="semi")
    with pytest.raises(AssertionError):
        assert_frame_equal(old, new)
