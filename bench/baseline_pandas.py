"""A deliberately conventional pandas baseline for the end-to-end benchmark.

This is the pipeline a data scientist would write in a pandas notebook instead of our
dbt + DuckDB + polars pipeline, run on the same landing zone, on the same machine, in the same run:

- read: ``pd.read_parquet`` on each hive-partitioned table, ``pd.read_csv`` per chargeback file
  (``engine="python"``, because the C parser aborts a whole file on a broken quote), the seeds;
- clean, the usual notebook way: drop rows missing a required field, parse ISO-8601 timestamps that
  carry an offset to naive UTC (``errors="coerce"``, unparseable rows dropped), convert money to USD
  with ``seeds/currencies.csv``, keep valid channels, statuses, amounts and quantities, then
  ``drop_duplicates`` on the natural key keeping the earliest-loaded row;
- fraud: the equivalent of ``features.feat_payment_fraud`` with vectorized pandas
  (``groupby(...).rolling("24h", on="paid_at")``, ``cumcount``, ``transform``, ``merge_asof``), the
  chargeback label with the maturity and time split of ``ml/models/payment_fraud.yml``, an
  early-stopped ``lightgbm.LGBMClassifier`` (scikit-learn API, categoricals as pandas ``category``),
  and ``predict_proba`` for every authorized payment;
- demand: the equivalent of ``features.feat_daily_demand`` (zero-filled daily units per store and
  product on the local business day, lags and trailing means as of the 14-day forecast origin,
  calendar, known promotions, prices), an early-stopped ``LGBMRegressor`` with the parameters of
  ``ml/models/daily_demand.yml``, and a prediction for each of the next 14 days;
- write: ``duckdb.connect(path)`` and ``create or replace table ... as select * from df``.

It is honest, idiomatic pandas: vectorized where pandas has a vectorized tool, no Python loops over
rows, and DuckDB is only the output store, never the engine. Where pandas has no vectorized tool
(a distinct count over a time window), it does what a pandas user does: ``rolling(...).apply`` with
a NumPy function (``raw=True``), which calls Python once per row.

Knowingly not the same as the SQL (what a notebook would not bother with):

- no quarantine, audit trail or reconciliation; no "timestamp after its export day" or
  oversized-value rules, and of the orphan-key rules only "a payment needs a known order";
- rolling windows include earlier rows at the same instant but not later ones (SQL ``range`` windows
  include all peers of the current row); the prior-30-day window excludes all peers, as in SQL;
- the model is not Platt-calibrated (ranking, and so AUC-PR, is unchanged) and no operating threshold
  is chosen; the category codes come from all scored rows, not from the training rows only;
- demand: the price is the one in effect on the forecast day if it was published by the origin, else
  the launch price (SQL: the latest of the prices published by the origin); the product and store
  28-day means are row windows over the dense daily series (SQL: range windows).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

UTC_OFFSET = r"(?:Z|[+-]\d{2}(?::?\d{2})?)$"
MAX_PAYMENT_USD = 50_000
MAX_ORDER_ITEM_QUANTITY = 1_000
HORIZON_DAYS = 14
DEFAULT_SEEDS = Path(__file__).resolve().parents[1] / "seeds"

FRAUD_NUMERIC = [
    "amount_usd",
    "is_high_risk_merchant_category",
    "paid_hour_utc",
    "is_ip_country_mismatch",
    "account_age_days",
    "card_age_days",
    "card_payments_1h",
    "card_payments_24h",
    "card_payments_7d",
    "card_amount_usd_24h",
    "device_payments_1h",
    "device_payments_24h",
    "device_distinct_cards_24h",
    "device_distinct_customers_7d",
    "device_declines_24h",
    "customer_payments_24h",
    "customer_payments_prior_30d",
    "customer_avg_amount_usd_30d",
    "amount_vs_customer_avg",
    "is_new_device",
    "is_new_card",
]
FRAUD_CATEGORICAL = ["channel", "merchant_category_code", "ip_country", "customer_country_code"]
FRAUD_PARAMS = {
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_child_samples": 50,
    "colsample_bytree": 0.8,
    "subsample": 0.8,
    "subsample_freq": 1,
    "reg_lambda": 1.0,
    "scale_pos_weight": 5.0,
    "n_estimators": 1000,
    "metric": "average_precision",
    "random_state": 7,
    "n_jobs": 2,
    "verbose": -1,
}
FRAUD_SPLIT_DAYS = {"cutoff": 30, "maturity": 90, "validation": 45, "test": 45}

DEMAND_NUMERIC = [
    "day_of_week",
    "day_of_month",
    "month_of_year",
    "day_of_year",
    "is_holiday",
    "days_to_christmas",
    "days_since_launch",
    "list_price_usd",
    "price_vs_launch",
    "discount_pct",
    "units_same_weekday_lag_14",
    "units_same_weekday_lag_21",
    "units_same_weekday_lag_28",
    "units_same_weekday_lag_35",
    "units_mean_7d",
    "units_mean_28d",
    "units_mean_84d",
    "units_mean_last_year_same_week",
    "last_year_seasonal_ratio",
    "days_of_history",
    "product_units_28d",
    "store_units_28d",
]
DEMAND_CATEGORICAL = ["store_id", "product_id", "category_id", "store_type"]
DEMAND_PARAMS = {
    "objective": "poisson",
    "learning_rate": 0.05,
    "num_leaves": 63,
    "min_child_samples": 40,
    "colsample_bytree": 0.8,
    "subsample": 0.8,
    "subsample_freq": 1,
    "reg_lambda": 1.0,
    "n_estimators": 1500,
    "metric": "poisson",
    "random_state": 7,
    "n_jobs": 2,
    "verbose": -1,
}
DEMAND_SPLIT_DAYS = {"cutoff": 14, "validation": 28, "test": 28}
EARLY_STOPPING_ROUNDS = 50


# --- timing -----------------------------------------------------------------------------------


@dataclass
class Stopwatch:
    """Wall seconds per step; a step named "stage.detail" also counts towards "stage"."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

    def stages(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for name, seconds in self.seconds.items():
            stage = name.split(".")[0]
            totals[stage] = totals.get(stage, 0.0) + seconds
        return {stage: round(seconds, 3) for stage, seconds in totals.items()}


# --- read -------------------------------------------------------------------------------------


def read_table(landing_dir: Path, system: str, table: str) -> pd.DataFrame:
    """One hive-partitioned parquet table; the partition's `date=` becomes `loaded_on`."""
    frame = pd.read_parquet(landing_dir / system / table)
    frame["loaded_on"] = pd.to_datetime(frame.pop("date").astype(str))
    return frame


def read_chargebacks(landing_dir: Path) -> pd.DataFrame:
    """Every chargeback CSV, malformed lines skipped."""
    frames = []
    for path in sorted((landing_dir / "disputes" / "chargebacks").glob("date=*/*.csv")):
        frame = pd.read_csv(path, dtype=str, on_bad_lines="skip", engine="python")
        frame["loaded_on"] = pd.Timestamp(path.parent.name.removeprefix("date="))
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def read_seeds(seeds_dir: Path) -> dict[str, pd.DataFrame]:
    return {
        "currencies": pd.read_csv(seeds_dir / "currencies.csv"),
        "countries": pd.read_csv(seeds_dir / "countries.csv"),
        "stores": pd.read_csv(seeds_dir / "stores.csv"),
        "holidays": pd.read_csv(seeds_dir / "holidays.csv", parse_dates=["holiday_date"]),
        "product_categories": pd.read_csv(seeds_dir / "product_categories.csv"),
        "merchant_categories": pd.read_csv(
            seeds_dir / "merchant_categories.csv", dtype={"merchant_category_code": str}
        ),
        "chargeback_reasons": pd.read_csv(seeds_dir / "chargeback_reasons.csv", dtype={"reason_code": str}),
    }


def read_landing(landing_dir: Path) -> dict[str, pd.DataFrame]:
    tables = {
        "payments": ("payments", "payments"),
        "customers": ("crm", "customers"),
        "orders": ("shop", "orders"),
        "order_items": ("shop", "order_items"),
        "products": ("catalog", "products"),
        "product_prices": ("catalog", "product_prices"),
        "promotions": ("marketing", "promotions"),
    }
    raw = {name: read_table(landing_dir, system, table) for name, (system, table) in tables.items()}
    raw["chargebacks"] = read_chargebacks(landing_dir)
    return raw


# --- clean ------------------------------------------------------------------------------------


def parse_utc(values: pd.Series) -> pd.Series:
    """ISO-8601 strings with a UTC offset as naive UTC; no offset or unparseable -> NaT."""
    text = values.str.strip()
    has_offset = text.str.contains(UTC_OFFSET, regex=True, na=False)
    parsed = pd.to_datetime(text.where(has_offset), format="ISO8601", utc=True, errors="coerce")
    return parsed.dt.tz_localize(None)


def usd_rates(currencies: pd.DataFrame) -> pd.Series:
    return currencies.set_index("currency_code")["usd_per_unit"]


def first_loaded(frame: pd.DataFrame, key: str | list[str]) -> pd.DataFrame:
    """Re-sent duplicates dropped: the earliest-loaded row per key is kept."""
    return frame.sort_values("loaded_on", kind="stable").drop_duplicates(key, keep="first")


def clean_payments(raw: pd.DataFrame, orders: pd.DataFrame, seeds: dict[str, pd.DataFrame]) -> pd.DataFrame:
    required = [
        "payment_id",
        "order_id",
        "card_fingerprint",
        "amount",
        "currency",
        "paid_at",
        "channel",
        "payment_status",
    ]
    df = raw.dropna(subset=required).copy()
    df["channel"] = df["channel"].str.strip().str.lower()
    df["payment_status"] = df["payment_status"].str.strip().str.lower()
    df["currency"] = df["currency"].str.strip().str.upper()
    df["ip_country"] = df["ip_country"].str.strip().str.upper()
    df["merchant_category_code"] = df["merchant_category_code"].astype(str)
    df["paid_at"] = parse_utc(df["paid_at"])
    df["amount"] = pd.to_numeric(df["amount"], errors="coerce")
    df["amount_usd"] = (df["amount"] * df["currency"].map(usd_rates(seeds["currencies"]))).round(2)
    valid = (
        df["paid_at"].notna()
        & df["amount"].gt(0)
        & df["amount_usd"].le(MAX_PAYMENT_USD)
        & df["channel"].isin(["online", "in_store"])
        & df["payment_status"].isin(["authorized", "declined"])
        & df["order_id"].isin(orders["order_id"])
    )
    df = first_loaded(df[valid], "payment_id")
    merchant_categories = seeds["merchant_categories"]
    high_risk = merchant_categories.loc[merchant_categories["is_high_risk"], "merchant_category_code"]
    df["is_authorized"] = df["payment_status"].eq("authorized")
    df["is_high_risk_merchant_category"] = df["merchant_category_code"].isin(high_risk)
    return df.reset_index(drop=True)


def clean_customers(raw: pd.DataFrame, seeds: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per customer version (customer_id, updated_at)."""
    df = raw.dropna(subset=["customer_id", "country_code", "signed_up_at", "updated_at"]).copy()
    df["country_code"] = df["country_code"].str.strip().str.upper()
    df["signed_up_at"] = parse_utc(df["signed_up_at"])
    df["updated_at"] = parse_utc(df["updated_at"])
    valid = (
        df["signed_up_at"].notna()
        & df["updated_at"].notna()
        & df["updated_at"].ge(df["signed_up_at"])
        & df["country_code"].isin(seeds["countries"]["country_code"])
    )
    df = first_loaded(df[valid], ["customer_id", "updated_at"])
    return df[["customer_id", "country_code", "signed_up_at", "updated_at"]].reset_index(drop=True)


def fraud_chargeback_times(raw: pd.DataFrame, seeds: dict[str, pd.DataFrame]) -> pd.Series:
    """payment_id -> when its first fraud chargeback arrived."""
    required = ["chargeback_id", "payment_id", "received_at", "reason_code", "amount", "currency"]
    df = raw.dropna(subset=required).copy()
    df["received_at"] = parse_utc(df["received_at"])
    df["amount"] = pd.to_numeric(df["amount"], errors="coerce")
    df["currency"] = df["currency"].str.strip().str.upper()
    reasons = seeds["chargeback_reasons"]
    valid = (
        df["received_at"].notna()
        & df["amount"].gt(0)
        & df["currency"].isin(seeds["currencies"]["currency_code"])
        & df["reason_code"].isin(reasons["reason_code"])
    )
    df = first_loaded(df[valid], "chargeback_id")
    fraud_codes = reasons.loc[reasons["is_fraud"], "reason_code"]
    fraud = df[df["reason_code"].isin(fraud_codes)]
    return fraud.groupby("payment_id")["received_at"].min().rename("fraud_chargeback_at")


def clean_orders(raw: pd.DataFrame, seeds: dict[str, pd.DataFrame]) -> pd.DataFrame:
    df = raw.dropna(subset=["order_id", "store_id", "channel", "ordered_at", "order_status"]).copy()
    df["channel"] = df["channel"].str.strip().str.lower()
    df["order_status"] = df["order_status"].str.strip().str.lower()
    df["ordered_at"] = parse_utc(df["ordered_at"])
    valid = (
        df["ordered_at"].notna()
        & df["channel"].isin(["online", "in_store"])
        & df["order_status"].isin(["completed", "payment_failed"])
        & df["store_id"].isin(seeds["stores"]["store_id"])
    )
    return first_loaded(df[valid], "order_id").reset_index(drop=True)


def clean_order_items(raw: pd.DataFrame, seeds: dict[str, pd.DataFrame]) -> pd.DataFrame:
    required = ["order_id", "line_number", "product_id", "quantity", "unit_price", "currency"]
    df = raw.dropna(subset=required).copy()
    df["quantity"] = pd.to_numeric(df["quantity"], errors="coerce")
    df["unit_price"] = pd.to_numeric(df["unit_price"], errors="coerce")
    df["currency"] = df["currency"].str.strip().str.upper()
    unit_price_usd = (df["unit_price"] * df["currency"].map(usd_rates(seeds["currencies"]))).round(2)
    valid = (
        unit_price_usd.notna()
        & df["quantity"].gt(0)
        & df["quantity"].le(MAX_ORDER_ITEM_QUANTITY)
        & df["unit_price"].ge(0)
        & (unit_price_usd * df["quantity"]).le(MAX_PAYMENT_USD)
    )
    return first_loaded(df[valid], ["order_id", "line_number"]).reset_index(drop=True)


def clean_products(raw: pd.DataFrame, seeds: dict[str, pd.DataFrame]) -> pd.DataFrame:
    df = raw.dropna(subset=["product_id", "product_name", "category_id", "launched_on", "list_price"]).copy()
    df["category_id"] = df["category_id"].str.strip().str.upper()
    df["launched_on"] = pd.to_datetime(df["launched_on"].astype(str), errors="coerce")
    df["launch_list_price_usd"] = pd.to_numeric(df["list_price"], errors="coerce")
    valid = (
        df["launched_on"].notna()
        & df["launch_list_price_usd"].gt(0)
        & df["category_id"].isin(seeds["product_categories"]["category_id"])
    )
    df = first_loaded(df[valid], "product_id")
    return df[["product_id", "category_id", "launched_on", "launch_list_price_usd"]].reset_index(drop=True)


def clean_product_prices(raw: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    df = raw.dropna(subset=["product_id", "list_price", "valid_from"]).copy()
    df["list_price_usd"] = pd.to_numeric(df["list_price"], errors="coerce")
    df["valid_from"] = pd.to_datetime(df["valid_from"].astype(str), errors="coerce")
    valid = (
        df["valid_from"].notna() & df["list_price_usd"].gt(0) & df["product_id"].isin(products["product_id"])
    )
    df = first_loaded(df[valid], ["product_id", "valid_from"])
    return df[["product_id", "valid_from", "list_price_usd", "loaded_on"]].reset_index(drop=True)


def clean_promotions(
    raw: pd.DataFrame, products: pd.DataFrame, seeds: dict[str, pd.DataFrame]
) -> pd.DataFrame:
    required = ["promotion_id", "product_id", "starts_on", "ends_on", "discount_pct"]
    df = raw.dropna(subset=required).copy()
    df["starts_on"] = pd.to_datetime(df["starts_on"].astype(str), errors="coerce")
    df["ends_on"] = pd.to_datetime(df["ends_on"].astype(str), errors="coerce")
    df["discount_pct"] = pd.to_numeric(df["discount_pct"], errors="coerce")
    valid = (
        df["ends_on"].ge(df["starts_on"])
        & df["discount_pct"].gt(0)
        & df["discount_pct"].lt(1)
        & df["product_id"].isin(products["product_id"])
        & (df["store_id"].isna() | df["store_id"].isin(seeds["stores"]["store_id"]))
    )
    return first_loaded(df[valid], "promotion_id").reset_index(drop=True)


def country_as_of(events: pd.DataFrame, time_column: str, customers: pd.DataFrame) -> pd.Series:
    """The customer's country in the latest version at or before each event (NaN if none)."""
    left = events[["customer_id", time_column]].reset_index(names="_row").sort_values(time_column)
    right = customers[["customer_id", "updated_at", "country_code"]].sort_values("updated_at")
    merged = pd.merge_asof(
        left, right, left_on=time_column, right_on="updated_at", by="customer_id", direction="backward"
    )
    return merged.set_index("_row")["country_code"].reindex(events.index)


# --- fraud features ---------------------------------------------------------------------------


def count_distinct(values: np.ndarray) -> float:
    """Distinct non-missing codes in a rolling window (for rolling.apply with raw=True)."""
    return float(np.unique(values[~np.isnan(values)]).size)


def trailing(
    df: pd.DataFrame, key: str, window: str, aggregations: dict[str, tuple[str, str]], closed: str = "both"
) -> pd.DataFrame:
    """Per `key`, aggregations over the time window before each payment, aligned to df's index.

    closed="both" is [t - window, t], the payment included (SQL: range between ... preceding and
    current row); closed="left" is [t - window, t), the prior window. Rows without a key get NaN.
    """
    keyed = df[df[key].notna()].sort_values([key, "paid_at", "payment_id"])
    rolling = keyed.groupby(key, sort=True).rolling(window, on="paid_at", closed=closed)
    out = pd.DataFrame(index=keyed.index)
    for name, (column, how) in aggregations.items():
        if how == "nunique":
            result = rolling[column].apply(count_distinct, raw=True)
        else:
            result = rolling[column].agg(how)
        # groupby(sort=True).rolling returns the rows group by group in the order sorted above
        if not (result.index.get_level_values(0) == keyed[key].to_numpy()).all():
            raise RuntimeError(f"rolling result for {key} is not in the sorted row order")
        out[name] = result.to_numpy()
    return out.reindex(df.index)


def velocity_features(df: pd.DataFrame) -> pd.DataFrame:
    """Counts and sums over trailing windows per card, device and customer."""
    windows = [
        ("card_fingerprint", "1h", {"card_payments_1h": ("one", "count")}, "both"),
        (
            "card_fingerprint",
            "24h",
            {"card_payments_24h": ("one", "count"), "card_amount_usd_24h": ("amount_usd", "sum")},
            "both",
        ),
        ("card_fingerprint", "7D", {"card_payments_7d": ("one", "count")}, "both"),
        ("device_id", "1h", {"device_payments_1h": ("one", "count")}, "both"),
        (
            "device_id",
            "24h",
            {"device_payments_24h": ("one", "count"), "device_declines_24h": ("is_declined", "sum")},
            "both",
        ),
        ("customer_id", "24h", {"customer_payments_24h": ("one", "count")}, "both"),
        (
            "customer_id",
            "30D",
            {
                "customer_payments_prior_30d": ("one", "count"),
                "customer_avg_amount_usd_30d": ("amount_usd", "mean"),
            },
            "left",
        ),
    ]
    frame = df.assign(one=1.0, is_declined=(~df["is_authorized"]).astype(float))
    parts = [trailing(frame, key, window, aggs, closed) for key, window, aggs, closed in windows]
    return pd.concat(parts, axis=1)


def distinct_features(df: pd.DataFrame) -> pd.DataFrame:
    """Distinct cards per device over 24h and distinct customers per device over 7 days.

    pandas has no rolling nunique: the keys are factorized to float codes (NaN for a missing
    customer) and rolling(...).apply(np.unique, raw=True) is called once per device payment.
    """
    card_codes, _ = pd.factorize(df["card_fingerprint"])
    customer_codes, _ = pd.factorize(df["customer_id"])
    frame = df.assign(
        card_code=card_codes.astype(float),
        customer_code=np.where(customer_codes >= 0, customer_codes, np.nan),
    )
    cards = trailing(frame, "device_id", "24h", {"device_distinct_cards_24h": ("card_code", "nunique")})
    customers = trailing(
        frame, "device_id", "7D", {"device_distinct_customers_7d": ("customer_code", "nunique")}
    )
    return pd.concat([cards, customers], axis=1)


def fraud_features(
    payments: pd.DataFrame,
    customers: pd.DataFrame,
    chargebacks_at: pd.Series,
    velocity: pd.DataFrame,
    distinct: pd.DataFrame,
) -> pd.DataFrame:
    """One row per payment, the columns of features.feat_payment_fraud."""
    df = payments.join(velocity).join(distinct)
    has_device = df["device_id"].notna()
    has_customer = df["customer_id"].notna()
    for column in [*distinct.columns, "device_payments_1h", "device_payments_24h", "device_declines_24h"]:
        df[column] = df[column].fillna(0).where(has_device)
    for column in ["customer_payments_24h", "customer_payments_prior_30d"]:
        df[column] = df[column].fillna(0).where(has_customer)

    in_order = df.sort_values(["paid_at", "payment_id"])
    first_device_use = in_order.groupby(["customer_id", "device_id"], dropna=False).cumcount().eq(0)
    first_card_use = in_order.groupby(["customer_id", "card_fingerprint"], dropna=False).cumcount().eq(0)
    df["is_new_device"] = has_device & first_device_use.reindex(df.index)
    df["is_new_card"] = has_customer & first_card_use.reindex(df.index)

    df["customer_country_code"] = country_as_of(df, "paid_at", customers)
    signed_up_at = df["customer_id"].map(customers.groupby("customer_id")["signed_up_at"].min())
    card_first_paid_at = df.groupby("card_fingerprint")["paid_at"].transform("min")
    paid_day = df["paid_at"].dt.normalize()
    df["account_age_days"] = (paid_day - signed_up_at.dt.normalize()).dt.days
    df["card_age_days"] = (paid_day - card_first_paid_at.dt.normalize()).dt.days
    df["paid_hour_utc"] = df["paid_at"].dt.hour
    df["is_ip_country_mismatch"] = (
        df["ip_country"].notna()
        & df["customer_country_code"].notna()
        & df["ip_country"].ne(df["customer_country_code"])
    )
    average = df["customer_avg_amount_usd_30d"]
    df["amount_vs_customer_avg"] = (df["amount_usd"] / average.where(average != 0)).where(has_customer)
    df["fraud_chargeback_at"] = df["payment_id"].map(chargebacks_at)
    columns = [
        "payment_id",
        "paid_at",
        "loaded_on",
        "customer_id",
        "is_authorized",
        "amount_usd",
        "channel",
        "merchant_category_code",
        "is_high_risk_merchant_category",
        "ip_country",
        "customer_country_code",
        *[c for c in FRAUD_NUMERIC if c not in {"amount_usd", "is_high_risk_merchant_category"}],
        "fraud_chargeback_at",
    ]
    return df[columns].sort_values("payment_id").reset_index(drop=True)


# --- fraud model ------------------------------------------------------------------------------


def fraud_dataset(features: pd.DataFrame) -> pd.DataFrame:
    """Authorized payments with model-ready columns, the label (known at the cutoff) and the split
    ("unlabelled" for payments whose label has not matured)."""
    df = features[features["is_authorized"]].copy()
    for column in FRAUD_CATEGORICAL:
        df[column] = df[column].astype("category")
    cutoff = df["paid_at"].max() - pd.Timedelta(days=FRAUD_SPLIT_DAYS["cutoff"])
    matured_until = cutoff - pd.Timedelta(days=FRAUD_SPLIT_DAYS["maturity"])
    test_start = matured_until - pd.Timedelta(days=FRAUD_SPLIT_DAYS["test"])
    validation_start = test_start - pd.Timedelta(days=FRAUD_SPLIT_DAYS["validation"])
    df["label"] = df["fraud_chargeback_at"].le(cutoff).astype(int)
    df["split"] = np.select(
        [df["paid_at"] > matured_until, df["paid_at"] > test_start, df["paid_at"] > validation_start],
        ["unlabelled", "test", "validation"],
        default="train",
    )
    return df


def fit_early_stopped(model: lgb.LGBMModel, data: pd.DataFrame, columns: list[str], label: str) -> None:
    train, validation = data[data["split"] == "train"], data[data["split"] == "validation"]
    model.fit(
        train[columns],
        train[label],
        eval_X=validation[columns],
        eval_y=validation[label],
        callbacks=[lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)],
    )


def train_fraud(dataset: pd.DataFrame) -> tuple[lgb.LGBMClassifier, dict]:
    columns = FRAUD_NUMERIC + FRAUD_CATEGORICAL
    model = lgb.LGBMClassifier(**FRAUD_PARAMS)
    fit_early_stopped(model, dataset, columns, "label")
    test = dataset[dataset["split"] == "test"]
    scores = model.predict_proba(test[columns])[:, 1]
    metrics = {
        "fraud_train_rows": int((dataset["split"] == "train").sum()),
        "fraud_validation_rows": int((dataset["split"] == "validation").sum()),
        "fraud_test_rows": len(test),
        "fraud_test_positives": int(test["label"].sum()),
        "fraud_best_iteration": int(model.best_iteration_),
        "fraud_test_auc_pr": round(float(average_precision_score(test["label"], scores)), 4),
        "fraud_test_auc_roc": round(float(roc_auc_score(test["label"], scores)), 4),
    }
    return model, metrics


def score_fraud(model: lgb.LGBMClassifier, dataset: pd.DataFrame) -> pd.DataFrame:
    scores = model.predict_proba(dataset[FRAUD_NUMERIC + FRAUD_CATEGORICAL])[:, 1]
    return pd.DataFrame({"payment_id": dataset["payment_id"].to_numpy(), "fraud_score": scores})


# --- demand features --------------------------------------------------------------------------


def local_dates(utc: pd.Series, zones: pd.Series) -> pd.Series:
    """The calendar day of each naive-UTC timestamp in its IANA time zone."""
    parts = [
        part.dt.tz_localize("UTC").dt.tz_convert(zone).dt.tz_localize(None).dt.normalize()
        for zone, part in utc.groupby(zones)
    ]
    return pd.concat(parts).reindex(utc.index)


def daily_units(
    orders: pd.DataFrame, items: pd.DataFrame, customers: pd.DataFrame, seeds: dict[str, pd.DataFrame]
) -> pd.DataFrame:
    """Units sold per store, product and business day (the store's local day; the customer's
    country's for the online shop) from completed orders."""
    store_zone = orders["store_id"].map(seeds["stores"].set_index("store_id")["timezone"])
    country = country_as_of(orders, "ordered_at", customers)
    customer_zone = country.map(seeds["countries"].set_index("country_code")["timezone"])
    zone = customer_zone.where(orders["channel"].eq("online")).fillna(store_zone)
    orders = orders.assign(business_date=local_dates(orders["ordered_at"], zone))
    completed = orders.loc[orders["order_status"].eq("completed"), ["order_id", "store_id", "business_date"]]
    lines = items.merge(completed, on="order_id", how="inner")
    return lines.groupby(["store_id", "product_id", "business_date"], as_index=False)["quantity"].sum()


def demand_grid(daily: pd.DataFrame, products: pd.DataFrame) -> tuple[pd.DataFrame, pd.Timestamp]:
    """Every day of every store x product series (from the later of the store's first sale and the
    product's launch) up to the last sales day plus the horizon; units are 0 on days without sales
    and unknown (NaN) after the last sales day."""
    first_day, last_day = daily["business_date"].min(), daily["business_date"].max()
    days = pd.date_range(first_day, last_day + pd.Timedelta(days=HORIZON_DAYS), freq="D")
    store_first_sale = daily.groupby("store_id")["business_date"].min()
    grid = pd.MultiIndex.from_product(
        [store_first_sale.index, products["product_id"], days],
        names=["store_id", "product_id", "forecast_date"],
    ).to_frame(index=False)
    launched_on = grid["product_id"].map(products.set_index("product_id")["launched_on"])
    start = np.maximum(grid["store_id"].map(store_first_sale), launched_on)
    grid = grid[(grid["forecast_date"] >= start) & (start <= last_day)]
    sales = daily.rename(columns={"business_date": "forecast_date", "quantity": "units_sold"})
    grid = grid.merge(sales, on=["store_id", "product_id", "forecast_date"], how="left")
    known = grid["forecast_date"] <= last_day
    grid["units_sold"] = grid["units_sold"].astype(float).fillna(0).where(known)
    grid = grid.sort_values(["store_id", "product_id", "forecast_date"]).reset_index(drop=True)
    return grid, last_day


def series_history(grid: pd.DataFrame) -> pd.DataFrame:
    """Lags and trailing means of each series as of the forecast origin (14 days before)."""
    units = grid.groupby(["store_id", "product_id"], sort=False)["units_sold"]
    out = pd.DataFrame(index=grid.index)
    for lag in (14, 21, 28, 35):
        out[f"units_same_weekday_lag_{lag}"] = units.shift(lag)
    means = {
        "units_mean_7d": (HORIZON_DAYS, 7),
        "units_mean_28d": (HORIZON_DAYS, 28),
        "units_mean_84d": (HORIZON_DAYS, 84),
        "units_mean_last_year_same_week": (361, 7),
        "units_mean_last_year_before_origin": (HORIZON_DAYS + 364, 28),
    }
    for name, (offset, days) in means.items():
        out[name] = units.transform(lambda s, o=offset, d=days: s.shift(o).rolling(d, min_periods=1).mean())
    out["days_of_history"] = units.transform(lambda s: s.notna().cumsum().shift(HORIZON_DAYS, fill_value=0))
    before_origin = out.pop("units_mean_last_year_before_origin")
    out["last_year_seasonal_ratio"] = out["units_mean_last_year_same_week"] / before_origin.where(
        before_origin != 0
    )
    return out


def totals_28d(grid: pd.DataFrame, key: str, last_day: pd.Timestamp) -> pd.DataFrame:
    """Mean daily units of a product (or store) over the 28 days up to each day, keyed by origin."""
    known = grid[grid["forecast_date"] <= last_day]
    daily = known.groupby([key, "forecast_date"])["units_sold"].sum()
    mean = daily.groupby(level=key).transform(lambda s: s.rolling(28, min_periods=1).mean())
    name = f"{key.removesuffix('_id')}_units_28d"
    return mean.rename(name).reset_index().rename(columns={"forecast_date": "origin_date"})


def known_discounts(grid: pd.DataFrame, promotions: pd.DataFrame, store_ids: pd.Series) -> pd.DataFrame:
    """Deepest discount per store, product and day among promotions published by the origin."""
    all_stores = promotions[promotions["store_id"].isna()].drop(columns="store_id")
    per_store = pd.concat(
        [promotions[promotions["store_id"].notna()], all_stores.merge(store_ids.to_frame(), how="cross")]
    )
    per_store["forecast_date"] = per_store.apply(
        lambda promotion: pd.date_range(promotion["starts_on"], promotion["ends_on"], freq="D"), axis=1
    )
    days = per_store.explode("forecast_date")
    days["forecast_date"] = days["forecast_date"].astype(grid["forecast_date"].dtype)
    keys = ["store_id", "product_id", "forecast_date"]
    matched = grid[[*keys, "origin_date"]].merge(days[[*keys, "discount_pct", "loaded_on"]], on=keys)
    matched = matched[matched["loaded_on"] <= matched["origin_date"]]
    return matched.groupby(keys, as_index=False)["discount_pct"].max()


def demand_features(
    daily: pd.DataFrame,
    products: pd.DataFrame,
    prices: pd.DataFrame,
    promotions: pd.DataFrame,
    seeds: dict[str, pd.DataFrame],
) -> pd.DataFrame:
    """One row per store, product and forecast day, the columns of features.feat_daily_demand."""
    grid, last_day = demand_grid(daily, products)
    grid = grid.join(series_history(grid))
    grid["origin_date"] = grid["forecast_date"] - pd.Timedelta(days=HORIZON_DAYS)
    grid = grid.merge(totals_28d(grid, "product_id", last_day), on=["product_id", "origin_date"], how="left")
    grid = grid.merge(totals_28d(grid, "store_id", last_day), on=["store_id", "origin_date"], how="left")

    stores = seeds["stores"].set_index("store_id")
    grid["store_type"] = grid["store_id"].map(stores["store_type"])
    grid = grid.merge(products, on="product_id", how="left")
    date = grid["forecast_date"]
    grid["day_of_week"] = date.dt.day_of_week + 1
    grid["day_of_month"] = date.dt.day
    grid["month_of_year"] = date.dt.month
    grid["day_of_year"] = date.dt.day_of_year
    christmas = pd.to_datetime(pd.DataFrame({"year": date.dt.year, "month": 12, "day": 25}))
    grid["days_to_christmas"] = (christmas - date).dt.days.clip(-10, 60)
    grid["days_since_launch"] = (date - grid["launched_on"]).dt.days
    grid["country_code"] = grid["store_id"].map(stores["country_code"])
    holidays = seeds["holidays"][["country_code", "holiday_date"]].drop_duplicates()
    grid = grid.merge(
        holidays.rename(columns={"holiday_date": "forecast_date"}).assign(is_holiday=True),
        on=["country_code", "forecast_date"],
        how="left",
    )
    grid["is_holiday"] = grid["is_holiday"].fillna(False).astype(bool) & grid["store_type"].eq("physical")

    grid = pd.merge_asof(
        grid.sort_values("forecast_date"),
        prices.sort_values("valid_from")
        .astype({"valid_from": date.dtype})
        .rename(columns={"loaded_on": "price_loaded_on"}),
        left_on="forecast_date",
        right_on="valid_from",
        by="product_id",
        direction="backward",
    )
    # the price in effect, if it had been published by the origin; else the launch price
    price_known = grid["price_loaded_on"] <= grid["origin_date"]
    grid["list_price_usd"] = grid["list_price_usd"].where(price_known).fillna(grid["launch_list_price_usd"])
    grid["price_vs_launch"] = grid["list_price_usd"] / grid["launch_list_price_usd"]
    discounts = known_discounts(grid, promotions, pd.Series(stores.index, name="store_id"))
    grid = grid.merge(discounts, on=["store_id", "product_id", "forecast_date"], how="left")
    grid["discount_pct"] = grid["discount_pct"].fillna(0.0)
    grid["seasonal_naive_units"] = grid["units_same_weekday_lag_14"]
    columns = ["store_id", "product_id", "forecast_date", "origin_date", "units_sold", "category_id"]
    columns += [c for c in ["store_type", *DEMAND_NUMERIC, "seasonal_naive_units"] if c not in columns]
    return grid[columns].sort_values(["store_id", "product_id", "forecast_date"]).reset_index(drop=True)


# --- demand model -----------------------------------------------------------------------------


def demand_dataset(features: pd.DataFrame) -> pd.DataFrame:
    df = features.copy()
    for column in DEMAND_CATEGORICAL:
        df[column] = df[column].astype("category")
    latest = df.loc[df["units_sold"].notna(), "forecast_date"].max()
    cutoff = latest - pd.Timedelta(days=DEMAND_SPLIT_DAYS["cutoff"])
    test_start = cutoff - pd.Timedelta(days=DEMAND_SPLIT_DAYS["test"])
    validation_start = test_start - pd.Timedelta(days=DEMAND_SPLIT_DAYS["validation"])
    date = df["forecast_date"]
    df["split"] = np.select(
        [df["units_sold"].isna(), date > cutoff, date > test_start, date > validation_start],
        ["future", "unlabelled", "test", "validation"],
        default="train",
    )
    return df


def wape(actual: pd.Series, predicted: np.ndarray | pd.Series) -> float:
    return float(np.abs(actual - predicted).sum() / actual.sum())


def train_demand(dataset: pd.DataFrame) -> tuple[lgb.LGBMRegressor, dict]:
    columns = DEMAND_NUMERIC + DEMAND_CATEGORICAL
    model = lgb.LGBMRegressor(**DEMAND_PARAMS)
    fit_early_stopped(model, dataset, columns, "units_sold")
    test = dataset[dataset["split"] == "test"]
    baseline = test["seasonal_naive_units"].fillna(0)
    metrics = {
        "demand_train_rows": int((dataset["split"] == "train").sum()),
        "demand_validation_rows": int((dataset["split"] == "validation").sum()),
        "demand_test_rows": len(test),
        "demand_best_iteration": int(model.best_iteration_),
        "demand_test_wape": round(wape(test["units_sold"], model.predict(test[columns])), 4),
        "demand_baseline_wape": round(wape(test["units_sold"], baseline), 4),
    }
    return model, metrics


def score_demand(model: lgb.LGBMRegressor, dataset: pd.DataFrame) -> pd.DataFrame:
    future = dataset[dataset["split"] == "future"]
    predicted = model.predict(future[DEMAND_NUMERIC + DEMAND_CATEGORICAL])
    return pd.DataFrame(
        {
            "store_id": future["store_id"].astype(str).to_numpy(),
            "product_id": future["product_id"].astype(str).to_numpy(),
            "forecast_date": future["forecast_date"].to_numpy(),
            "predicted_units": predicted,
        }
    )


# --- write ------------------------------------------------------------------------------------


def write_tables(db_path: Path, tables: dict[str, pd.DataFrame]) -> None:
    db_path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(db_path)) as con:
        for name, frame in tables.items():
            con.register("frame", frame)
            con.execute(f"create or replace table {name} as select * from frame")
            con.unregister("frame")


# --- pipeline ---------------------------------------------------------------------------------


def run(landing_dir: Path, db_path: Path, seeds_dir: Path = DEFAULT_SEEDS) -> dict:
    """The whole baseline; per-stage wall seconds, row counts and the models' test metrics."""
    watch = Stopwatch()
    started = time.perf_counter()
    with watch.step("read"):
        raw = read_landing(landing_dir)
        seeds = read_seeds(seeds_dir)
    with watch.step("clean"):
        orders = clean_orders(raw["orders"], seeds)
        payments = clean_payments(raw["payments"], orders, seeds)
        customers = clean_customers(raw["customers"], seeds)
        chargebacks_at = fraud_chargeback_times(raw["chargebacks"], seeds)
        items = clean_order_items(raw["order_items"], seeds)
        products = clean_products(raw["products"], seeds)
        prices = clean_product_prices(raw["product_prices"], products)
        promotions = clean_promotions(raw["promotions"], products, seeds)
    with watch.step("features.fraud_windows"):
        velocity = velocity_features(payments)
    with watch.step("features.fraud_distinct_counts"):
        distinct = distinct_features(payments)
    with watch.step("features.fraud_other"):
        fraud = fraud_features(payments, customers, chargebacks_at, velocity, distinct)
        fraud_data = fraud_dataset(fraud)
    with watch.step("features.demand"):
        daily = daily_units(orders, items, customers, seeds)
        demand = demand_features(daily, products, prices, promotions, seeds)
        demand_data = demand_dataset(demand)
    with watch.step("train.fraud"):
        fraud_model, fraud_metrics = train_fraud(fraud_data)
    with watch.step("train.demand"):
        demand_model, demand_metrics = train_demand(demand_data)
    with watch.step("score.fraud"):
        fraud_scores = score_fraud(fraud_model, fraud_data)
    with watch.step("score.demand"):
        demand_scores = score_demand(demand_model, demand_data)
    with watch.step("write"):
        write_tables(
            db_path,
            {
                "feat_payment_fraud": fraud,
                "payment_fraud_scores": fraud_scores,
                "feat_daily_demand": demand,
                "daily_demand_scores": demand_scores,
            },
        )
    total = time.perf_counter() - started
    return {
        **watch.stages(),
        "total": round(total, 3),
        "steps": {name: round(seconds, 3) for name, seconds in watch.seconds.items()},
        "payments_read": len(raw["payments"]),
        "payments_clean": len(payments),
        "feature_rows": len(fraud),
        "scored_rows": len(fraud_scores),
        **fraud_metrics,
        "demand_feature_rows": len(demand),
        "demand_scored_rows": len(demand_scores),
        **demand_metrics,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.baseline_pandas",
        description="The conventional pandas baseline: landing zone -> features -> LightGBM -> DuckDB.",
    )
    parser.add_argument("--landing", type=Path, required=True, help="landing-zone directory")
    parser.add_argument("--db", type=Path, required=True, help="DuckDB file to write the tables into")
    parser.add_argument("--seeds", type=Path, default=DEFAULT_SEEDS, help="seeds directory")
    parser.add_argument("--json", type=Path, help="also write the result to this file")
    args = parser.parse_args(argv)
    result = run(args.landing, args.db, args.seeds)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
