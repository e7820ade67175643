"""The online feature store against the batch path: for payments of the default world, the features
OnlineFeatureStore computes in Python from the published snapshot equal the rows of
features.feat_payment_fraud the batch model reads (ml/scoring/batch.py's _feature_sql), exactly; recorded
payments count for later ones, once; the window declaration both paths read is validated."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ml.scoring.batch import _feature_sql
from ml.settings import specs_dir
from ml.specs import FeatureSpec, ModelSpec, load_spec
from orchestration.defs.publish.publishing import publish
from serving.features import (
    FeatureDeclarationError,
    OnlineFeatureStore,
    PaymentEvent,
    SnapshotError,
    load_window_features,
)
from serving.features.events import to_cents
from tests.trained import TrainedWarehouse

EVENT_COLUMNS = (
    "payment_id, paid_at, customer_id, card_fingerprint, device_id, cast(amount_usd as double), "
    "channel, merchant_category_code, ip_country, is_authorized"
)
# A deterministic sample of authorized payments, plus the cases most likely to differ: the busiest
# cards, devices and customers, customers who moved country, payments made before the customer's
# first account version, and payments sharing their card's paid_at with another (RANGE peers).
SAMPLE = """
with authorized as (
    select * from features.feat_payment_fraud where is_authorized
),
moved as (
    select customer_id from marts.dim_customer_versions group by 1 having count(distinct country_code) > 1
),
peers as (
    select card_fingerprint, paid_at from marts.fct_payments group by all having count(*) > 1
)
(select payment_id from authorized order by md5(payment_id) limit 2500)
{busiest}
union (select payment_id from authorized where customer_id in (select customer_id from moved)
       order by md5(payment_id) limit 400)
union (select payment_id from authorized where customer_id is not null and customer_country_code is null
       order by payment_id limit 100)
union (select payment_id from marts.fct_payments where (card_fingerprint, paid_at) in (select * from peers)
       and is_authorized)
""".format(
    busiest="\n".join(
        f"union (select payment_id from authorized order by {column} desc nulls last, payment_id limit 150)"
        for column in (
            "card_payments_7d",
            "device_payments_24h",
            "device_distinct_customers_7d",
            "customer_payments_prior_30d",
        )
    )
)


@pytest.fixture(scope="module")
def snapshot(trained_warehouse: TrainedWarehouse, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    target = tmp_path_factory.mktemp("online-features") / "analytics.duckdb"
    publish(trained_warehouse.env.database, target)
    yield target
    target.unlink()


@pytest.fixture(scope="module")
def spec() -> ModelSpec:
    return load_spec(specs_dir() / "payment_fraud.yml")


def payments(database: Path, where: str, params: list | None = None) -> list[PaymentEvent]:
    with duckdb.connect(str(database), read_only=True) as con:
        rows = con.execute(
            f"select {EVENT_COLUMNS} from marts.fct_payments where {where} order by payment_id", params or []
        ).fetchall()
    return [PaymentEvent(*row) for row in rows]


def batch_features(database: Path, spec: ModelSpec, payment_ids: list[str]) -> pl.DataFrame:
    """What the batch model reads for these payments, without the scoring day column."""
    with duckdb.connect(str(database), read_only=True) as con:
        frame = con.execute(
            f"select {_feature_sql(spec)} from features.feat_payment_fraud "
            "where payment_id in (select unnest(?)) order by payment_id",
            [payment_ids],
        ).pl()
    return frame.drop(spec.scoring.day_column)


def new_payment(
    store: OnlineFeatureStore, payment_id: str, after: timedelta, like: PaymentEvent
) -> PaymentEvent:
    assert store.latest_paid_at is not None
    return replace(like, payment_id=payment_id, paid_at=store.latest_paid_at + after)


def test_online_features_equal_the_batch_rows_over_the_whole_history(
    trained_warehouse: TrainedWarehouse, snapshot: Path, spec: ModelSpec
) -> None:
    # a store holding every payment: each sampled payment is computed as of its own paid_at, with
    # the later payments the store holds ignored and itself (already held) counted once
    store = OnlineFeatureStore.load(snapshot, spec=spec, history=timedelta(days=1000))
    database = trained_warehouse.env.database
    with duckdb.connect(str(database), read_only=True) as con:
        picked = [payment_id for (payment_id,) in con.execute(SAMPLE).fetchall()]
    sample = payments(database, "payment_id in (select unnest(?))", [picked])
    assert len(sample) > 3000
    assert any(p.device_id is None for p in sample) and any(p.customer_id is None for p in sample)

    online = store.features(sample)
    batch = batch_features(database, spec, picked)
    assert online.columns == ["payment_id", *spec.features.names]
    assert_frame_equal(online, batch, check_exact=True)
    # the hard cases were really in the sample
    assert batch["card_payments_7d"].max() >= 10
    assert (batch["customer_country_code"].is_null() & batch["account_age_days"].is_not_null()).any()
    with duckdb.connect(str(database), read_only=True) as con:
        (moved,) = con.execute(
            "select count(*) from features.feat_payment_fraud as f join marts.dim_customers as c "
            "using (customer_id) where f.payment_id in (select unnest(?)) "
            "and f.customer_country_code <> c.country_code",
            [picked],
        ).fetchone()
    assert moved > 0  # the country as of the payment, not the current one


def test_a_store_bounded_to_the_longest_window_equals_the_batch_rows_it_covers(
    trained_warehouse: TrainedWarehouse, snapshot: Path, spec: ModelSpec
) -> None:
    store = OnlineFeatureStore.load(snapshot, spec=spec)  # default: 30 days of windows + 1 day of history
    database = trained_warehouse.env.database
    total = trained_warehouse.scalar("select count(*) from marts.fct_payments")
    assert 0 < store.rows < total / 5
    assert store.latest_paid_at == trained_warehouse.scalar("select max(paid_at) from marts.fct_payments")
    assert store.complete_from == store.latest_paid_at - timedelta(days=1)
    recent = payments(database, "paid_at >= ? and is_authorized", [store.complete_from])
    assert len(recent) > 500
    online = store.features(recent)
    assert_frame_equal(
        online, batch_features(database, spec, [p.payment_id for p in recent]), check_exact=True
    )


@pytest.fixture()
def store(snapshot: Path, spec: ModelSpec) -> OnlineFeatureStore:
    return OnlineFeatureStore.load(snapshot, spec=spec)


@pytest.fixture()
def recent(trained_warehouse: TrainedWarehouse) -> PaymentEvent:
    """The latest payment with a customer and a device: its card, device and customer have history."""
    (payment_id,) = trained_warehouse.query(
        "select payment_id from marts.fct_payments where customer_id is not null and device_id is not null "
        "order by paid_at desc, payment_id limit 1"
    )[0]
    return payments(trained_warehouse.env.database, "payment_id = ?", [payment_id])[0]


def one(store: OnlineFeatureStore, payment: PaymentEvent) -> dict:
    return store.features([payment]).row(0, named=True)


def test_a_recorded_payment_counts_for_a_later_one_once(
    store: OnlineFeatureStore, recent: PaymentEvent
) -> None:
    new_card = replace(recent, card_fingerprint="e" * 64)
    first = new_payment(store, "NEW-1", timedelta(minutes=1), new_card)
    later = new_payment(store, "NEW-2", timedelta(minutes=2), new_card)
    first_alone = one(store, first)
    before = one(store, later)
    assert before["card_payments_1h"] == 1.0 and before["is_new_card"] == 1.0
    assert not store.holds(first.payment_id)

    store.record([first])
    after = one(store, later)
    assert store.holds(first.payment_id)
    counts = (
        "card_payments_1h",
        "device_payments_24h",
        "customer_payments_24h",
        "customer_payments_prior_30d",
    )
    for name in counts:
        assert after[name] == before[name] + 1, name
    assert after["card_amount_usd_24h"] == pytest.approx(before["card_amount_usd_24h"] + first.amount_usd)
    assert after["is_new_card"] == 0.0  # the recorded payment used the card first

    # recording it again (a retry), or computing its features once held, counts it once
    rows = store.rows
    store.record([first])
    assert store.rows == rows
    assert one(store, later) == after
    assert one(store, first) == first_alone


def test_payments_of_one_call_count_each_other_as_the_batch_sql_would(
    store: OnlineFeatureStore, recent: PaymentEvent
) -> None:
    alone = one(store, new_payment(store, "NEW-1", timedelta(minutes=1), recent))
    # two new payments at the same instant are RANGE peers: each window holds both
    pair = store.features(
        [
            new_payment(store, "NEW-1", timedelta(minutes=1), recent),
            new_payment(store, "NEW-2", timedelta(minutes=1), recent),
        ]
    )
    assert pair["card_payments_1h"].to_list() == [alone["card_payments_1h"] + 1] * 2
    # ... but a payment before its prior window ends (prior_30d excludes paid_at itself) sees none
    assert pair["customer_payments_prior_30d"].to_list() == [alone["customer_payments_prior_30d"]] * 2
    # a later payment never counts for an earlier one; the earlier one counts for the later
    late_alone = one(store, new_payment(store, "NEW-3", timedelta(minutes=5), recent))
    late = store.features(
        [
            new_payment(store, "NEW-1", timedelta(minutes=1), recent),
            new_payment(store, "NEW-3", timedelta(minutes=5), recent),
        ]
    )
    assert late["card_payments_1h"].to_list() == [
        alone["card_payments_1h"],
        late_alone["card_payments_1h"] + 1,
    ]
    assert store.features([]).columns == store.features([recent]).columns


def test_old_events_leave_the_windows_but_first_uses_stay(
    store: OnlineFeatureStore, recent: PaymentEvent
) -> None:
    # guards the bounded state: a payment 60 days on pushes every held event out of the windows, and
    # the card and device are still known (not new, aged from their first payment)
    far = new_payment(store, "FAR-1", timedelta(days=60), recent)
    store.record([far])
    assert store.rows == 1
    later = one(store, replace(far, payment_id="FAR-2", paid_at=far.paid_at + timedelta(minutes=1)))
    assert later["card_payments_7d"] == 2.0
    assert later["customer_payments_prior_30d"] == 1.0
    assert later["is_new_card"] == 0.0 and later["is_new_device"] == 0.0
    assert later["card_age_days"] >= 60


def test_a_new_customer_device_and_card_are_new(store: OnlineFeatureStore, recent: PaymentEvent) -> None:
    stranger = replace(
        new_payment(store, "NEW-9", timedelta(minutes=1), recent),
        customer_id="C-UNKNOWN",
        card_fingerprint="f" * 64,
        device_id="D-UNKNOWN",
        ip_country="FR",
    )
    row = one(store, stranger)
    assert row["is_new_card"] == row["is_new_device"] == 1.0
    assert row["card_age_days"] == 0.0 and row["card_payments_1h"] == 1.0
    # an account the snapshot does not hold: no country and no age, as the batch SQL's joins give
    assert row["customer_country_code"] is None and row["account_age_days"] is None
    assert row["is_ip_country_mismatch"] == 0.0
    assert row["customer_avg_amount_usd_30d"] is None and row["amount_vs_customer_avg"] is None
    anonymous = one(store, replace(stranger, customer_id=None, device_id=None))
    assert anonymous["device_payments_1h"] is None and anonymous["customer_payments_24h"] is None
    assert anonymous["is_new_card"] == 0.0 and anonymous["is_new_device"] == 0.0


# --- the declaration, the spec and the snapshot, without a warehouse -------------------------------

GOOD = "{name: card_payments_1h, entity: card_fingerprint, window: 1 hour, aggregate: count}"


def write_project(tmp_path: Path, entries: str) -> Path:
    path = tmp_path / "dbt_project.yml"
    path.write_text(f"name: warehouse\nvars:\n  payment_fraud_windows:\n{entries}\n")
    return path


def test_the_project_declares_the_windows_feat_payment_fraud_has() -> None:
    declared = load_window_features()
    spec = load_spec(specs_dir() / "payment_fraud.yml")
    assert {f.name for f in declared} <= set(spec.features.numeric)
    assert len(declared) == 12
    prior = next(f for f in declared if f.name == "customer_avg_amount_usd_30d")
    assert (prior.entity, prior.aggregate, prior.column, prior.include_current) == (
        "customer_id",
        "avg",
        "amount_usd",
        False,
    )
    assert prior.window_us == 30 * 86_400_000_000


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "{name: x, entity: card_fingerprint, window: 2 weeks, aggregate: count}",
            r"\[1\]\.window: .*'2 weeks'",
        ),
        ("{name: x, entity: ip_country, window: 1 day, aggregate: count}", r"\[1\]\.entity: .*'ip_country'"),
        ("{name: x, entity: device_id, window: 1 day, aggregate: median}", r"\[1\]\.aggregate: .*'median'"),
        ("{name: x, entity: device_id, window: 1 day, aggregate: sum}", r"\[1\]\.column: must be one of"),
        (
            "{name: x, entity: device_id, window: 1 day, aggregate: count, column: amount_usd}",
            r"absent for count",
        ),
        (
            "{name: x, entity: device_id, window: 1 day, aggregate: count, include_current: 'no'}",
            r"true or false",
        ),
        (
            "{name: x, entity: device_id, window: 1 day, aggregate: count, frame: rows}",
            r"unknown keys \['frame'\]",
        ),
        ("{name: card_payments_1h, entity: device_id, window: 1 day, aggregate: count}", r"declared twice"),
        ("{name: X-1, entity: device_id, window: 1 day, aggregate: count}", r"\[1\]\.name: .*lowercase"),
    ],
)
def test_a_bad_declaration_names_the_file_entry_and_value(tmp_path: Path, entry: str, message: str) -> None:
    path = write_project(tmp_path, f"    - {GOOD}\n    - {entry}")
    with pytest.raises(FeatureDeclarationError, match=message) as raised:
        load_window_features(path)
    assert str(path) in str(raised.value)


def test_a_missing_or_empty_declaration_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "dbt_project.yml"
    path.write_text("name: warehouse\nvars: {pii_salt: x}\n")
    with pytest.raises(FeatureDeclarationError, match=r"vars\.payment_fraud_windows is missing"):
        load_window_features(path)
    with pytest.raises(FeatureDeclarationError, match="non-empty list"):
        load_window_features(write_project(tmp_path, "    []"))


def test_a_spec_feature_the_store_cannot_compute_is_refused_before_loading(
    tmp_path: Path, spec: ModelSpec
) -> None:
    odd = replace(spec, features=FeatureSpec(numeric=(*spec.features.numeric, "card_payments_90d")))
    with pytest.raises(FeatureDeclarationError, match="card_payments_90d"):
        OnlineFeatureStore.load(tmp_path / "never-read.duckdb", spec=odd)


def test_a_snapshot_without_the_customer_versions_is_refused(tmp_path: Path, spec: ModelSpec) -> None:
    # a snapshot published before dim_customer_versions existed cannot give the as-of country
    path = tmp_path / "analytics.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.fct_payments (payment_id varchar, paid_at timestamp)")
    with pytest.raises(SnapshotError, match=r"marts.dim_customer_versions"):
        OnlineFeatureStore.load(path, spec=spec)
    with pytest.raises(SnapshotError, match="no published snapshot"):
        OnlineFeatureStore.load(tmp_path / "missing.duckdb", spec=spec)


def test_amounts_become_cents_as_the_warehouse_rounds_them() -> None:
    assert [to_cents(x) for x in (12.34, 12.345, 0.1 + 0.2, 0.004, 0.0, 49999.99)] == [
        1234,
        1235,
        30,
        0,
        0,
        4999999,
    ]
    with pytest.raises(ValueError, match="finite"):
        to_cents(float("nan"))
    with pytest.raises(ValueError, match="naive UTC"):
        from serving.features.events import to_micros

        to_micros(datetime.fromisoformat("2025-01-01T00:00:00+00:00"))
