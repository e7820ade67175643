"""What the online feature store reads from the published snapshot (analytics.duckdb): the recent
payments its windows need, the all-time first payment of every card and of every customer's device
and card, the customers' account versions; and the merchant-category seed the warehouse flags
high-risk categories with. Aggregation happens in DuckDB; Python only builds dictionaries."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa

from ml.duckdb_limits import connect
from ml.settings import REPO_ROOT
from serving.features.errors import SnapshotError
from serving.features.events import Event

MERCHANT_CATEGORIES_SEED = REPO_ROOT / "seeds" / "merchant_categories.csv"
REQUIRED_TABLES = ("marts.fct_payments", "marts.dim_customer_versions")

# The (customer, device) and (customer, card) pairs' first payment, ordered as feat_payment_fraud's
# row_number() (paid_at, payment_id). A null customer is one partition there, hence kept here too.
_FIRST_USE = """
    select customer_id, {entity}, epoch_us(paid_at), payment_id
    from marts.fct_payments
    where {entity} is not null {extra}
    qualify row_number() over (partition by customer_id, {entity} order by paid_at, payment_id) = 1
"""


@dataclass(frozen=True)
class SnapshotState:
    path: Path
    newest_us: int | None  # latest paid_at in the snapshot
    events: list[Event]  # payments at or after the retention cutoff, in (paid_us, payment_id) order
    card_first_us: dict[str, int]
    first_device_use: dict[tuple[str | None, str], tuple[int, str]]
    first_card_use: dict[tuple[str, str], tuple[int, str]]
    customer_versions: dict[str, tuple[list[int], list[str | None]]]  # updated_us ascending, country
    signed_up_us: dict[str, int]  # first sign-up over the customer's versions
    high_risk_categories: frozenset[str]


def read_snapshot(path: Path, retention_us: int) -> SnapshotState:
    """The state as of the snapshot, keeping window events no older than its newest payment minus
    retention_us. The connection is read-only and closed before returning."""
    if not path.exists():
        raise SnapshotError(f"{path}: no published snapshot there")
    with connect(path, read_only=True) as con:
        _check_tables(con, path)
        (newest_us,) = con.execute("select epoch_us(max(paid_at)) from marts.fct_payments").fetchone()
        cutoff_us = newest_us - retention_us if newest_us is not None else 0
        events = list(
            _rows(
                con.execute(
                    "select epoch_us(paid_at), payment_id, cast(amount_usd * 100 as bigint), is_authorized, "
                    "card_fingerprint, device_id, customer_id from marts.fct_payments "
                    "where epoch_us(paid_at) >= ? order by paid_at, payment_id",
                    [cutoff_us],
                ).to_arrow_table()
            )
        )
        card_first_us = dict(
            _rows(
                con.execute(
                    "select card_fingerprint, epoch_us(min(paid_at)) from marts.fct_payments group by 1"
                ).to_arrow_table()
            )
        )
        first_device_use = {
            (customer, device): (paid_us, payment_id)
            for customer, device, paid_us, payment_id in _rows(
                con.execute(_FIRST_USE.format(entity="device_id", extra="")).to_arrow_table()
            )
        }
        first_card_use = {
            (customer, card): (paid_us, payment_id)
            for customer, card, paid_us, payment_id in _rows(
                con.execute(
                    _FIRST_USE.format(entity="card_fingerprint", extra="and customer_id is not null")
                ).to_arrow_table()
            )
        }
        versions = con.execute(
            "select customer_id, list(epoch_us(updated_at) order by updated_at), "
            "list(country_code order by updated_at), epoch_us(min(signed_up_at)) "
            "from marts.dim_customer_versions group by 1"
        ).to_arrow_table()
        snapshot_categories = con.execute(
            "select distinct merchant_category_code, is_high_risk_merchant_category from marts.fct_payments"
        ).fetchall()
    customer_versions: dict[str, tuple[list[int], list[str | None]]] = {}
    signed_up_us: dict[str, int] = {}
    for customer, updated, countries, signed_up in _rows(versions):
        customer_versions[customer] = (updated, countries)
        signed_up_us[customer] = signed_up
    high_risk = high_risk_categories()
    _check_categories(path, snapshot_categories, high_risk)
    return SnapshotState(
        path=path,
        newest_us=newest_us,
        events=events,
        card_first_us=card_first_us,
        first_device_use=first_device_use,
        first_card_use=first_card_use,
        customer_versions=customer_versions,
        signed_up_us=signed_up_us,
        high_risk_categories=high_risk,
    )


def high_risk_categories(seed: Path = MERCHANT_CATEGORIES_SEED) -> frozenset[str]:
    """Merchant categories the seed flags high-risk (fct_payments: any other code is not)."""
    frame = pl.read_csv(
        seed, schema_overrides={"merchant_category_code": pl.String, "is_high_risk": pl.Boolean}
    )
    return frozenset(frame.filter(pl.col("is_high_risk"))["merchant_category_code"].to_list())


def _rows(table: pa.Table) -> Iterator[tuple]:
    return zip(*(column.to_pylist() for column in table.columns), strict=True)


def _check_tables(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    present = {
        f"{schema}.{table}"
        for schema, table in con.execute("select schema_name, table_name from duckdb_tables()").fetchall()
    }
    missing = [table for table in REQUIRED_TABLES if table not in present]
    if missing:
        raise SnapshotError(
            f"{path}: the published snapshot has no {missing}; rebuild and publish the warehouse"
        )


def _check_categories(path: Path, rows: list[tuple], high_risk: frozenset[str]) -> None:
    """The seed the store flags requests with says what the snapshot's payments say: a seed
    changed since the warehouse was built would make online and batch features differ."""
    disagree = sorted(code for code, flagged in rows if (code in high_risk) != bool(flagged))
    if disagree:
        raise SnapshotError(
            f"{path}: is_high_risk_merchant_category of {disagree} differs from {MERCHANT_CATEGORIES_SEED}; "
            "rebuild and publish the warehouse"
        )
