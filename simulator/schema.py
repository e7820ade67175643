"""The landing-zone contract (docs/landing-contract.md): systems, tables, columns and Arrow types."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

MONEY = pa.decimal128(12, 2)


@dataclass(frozen=True)
class TableSpec:
    system: str
    name: str
    schema: pa.Schema
    file_format: str = "parquet"  # or "csv"

    @property
    def extension(self) -> str:
        return self.file_format


def _s(*fields: tuple[str, pa.DataType]) -> pa.Schema:
    return pa.schema([pa.field(name, dtype) for name, dtype in fields])


STR = pa.string()

TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        TableSpec(
            "crm",
            "customers",
            _s(
                ("customer_id", STR),
                ("full_name", STR),
                ("email", STR),
                ("phone", STR),
                ("country_code", STR),
                ("signed_up_at", STR),
                ("updated_at", STR),
                ("marketing_opt_in", pa.bool_()),
            ),
        ),
        TableSpec(
            "catalog",
            "products",
            _s(
                ("product_id", STR),
                ("product_name", STR),
                ("category_id", STR),
                ("brand", STR),
                ("launched_on", pa.date32()),
                ("list_price", MONEY),
            ),
        ),
        TableSpec(
            "catalog",
            "product_prices",
            _s(("product_id", STR), ("list_price", MONEY), ("valid_from", pa.date32())),
        ),
        TableSpec(
            "marketing",
            "promotions",
            _s(
                ("promotion_id", STR),
                ("product_id", STR),
                ("store_id", STR),
                ("starts_on", pa.date32()),
                ("ends_on", pa.date32()),
                ("discount_pct", pa.float64()),
            ),
        ),
        TableSpec(
            "shop",
            "orders",
            _s(
                ("order_id", STR),
                ("customer_id", STR),
                ("store_id", STR),
                ("channel", STR),
                ("ordered_at", STR),
                ("order_status", STR),
            ),
        ),
        TableSpec(
            "shop",
            "order_items",
            _s(
                ("order_id", STR),
                ("line_number", pa.int32()),
                ("product_id", STR),
                ("quantity", pa.int32()),
                ("unit_price", MONEY),
                ("currency", STR),
            ),
        ),
        TableSpec(
            "payments",
            "payments",
            _s(
                ("payment_id", STR),
                ("order_id", STR),
                ("customer_id", STR),
                ("card_fingerprint", STR),
                ("device_id", STR),
                ("amount", MONEY),
                ("currency", STR),
                ("paid_at", STR),
                ("channel", STR),
                ("merchant_category_code", STR),
                ("ip_country", STR),
                ("payment_status", STR),
            ),
        ),
        TableSpec(
            "payments",
            "cards",
            _s(
                ("card_fingerprint", STR),
                ("customer_id", STR),
                ("card_brand", STR),
                ("card_type", STR),
                ("issuing_country", STR),
                ("first_seen_at", STR),
            ),
        ),
        TableSpec(
            "payments",
            "devices",
            _s(("device_id", STR), ("device_type", STR), ("os", STR), ("first_seen_at", STR)),
        ),
        TableSpec(
            "disputes",
            "chargebacks",
            _s(
                ("chargeback_id", STR),
                ("payment_id", STR),
                ("received_at", STR),
                ("reason_code", STR),
                ("amount", MONEY),
                ("currency", STR),
            ),
            file_format="csv",
        ),
    )
}

ORACLE_PAYMENTS_SCHEMA = _s(
    ("payment_id", STR),
    ("paid_at", pa.timestamp("ms", tz="UTC")),  # UTC instant, tz-aware
    ("fraud_probability", pa.float64()),
    ("is_fraud", pa.bool_()),
)
ORACLE_DEMAND_SCHEMA = _s(
    ("date", pa.date32()),
    ("store_id", STR),
    ("product_id", STR),
    ("expected_units", pa.float64()),
)
# Written only when SimConfig.regime_change switches on the fraud pattern: its payments, by campaign.
ORACLE_REGIME_PAYMENTS_SCHEMA = _s(
    ("payment_id", STR),
    ("paid_at", pa.timestamp("ms", tz="UTC")),
    ("campaign", STR),
    ("is_fraud", pa.bool_()),
    ("is_declined", pa.bool_()),
)
