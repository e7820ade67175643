"""Load the seed CSVs (stores, countries, currencies, categories, holidays, reason and merchant codes)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from pathlib import Path

# E.164 calling code and national number length per country.
PHONE_PLANS: dict[str, tuple[str, int]] = {
    "US": ("1", 10),
    "CA": ("1", 10),
    "GB": ("44", 10),
    "DE": ("49", 11),
    "FR": ("33", 9),
    "NL": ("31", 9),
    "ES": ("34", 9),
    "IT": ("39", 10),
    "BR": ("55", 11),
    "IN": ("91", 10),
    "NG": ("234", 10),
    "RU": ("7", 10),
    "CN": ("86", 11),
    "RO": ("40", 9),
    "VN": ("84", 9),
}
DEFAULT_PHONE_PLAN = ("999", 9)


@dataclass(frozen=True)
class StoreRow:
    store_id: str
    name: str
    store_type: str  # "online" | "physical"
    country_code: str
    timezone: str
    opened_on: date


@dataclass(frozen=True)
class ReasonRow:
    reason_code: str
    network: str
    is_fraud: bool


@dataclass(frozen=True)
class Reference:
    """The seed tables, as plain Python lists in file order."""

    stores: list[StoreRow]
    country_codes: list[str]
    country_currency: dict[str, str]
    country_timezones: dict[str, str]
    currency_codes: list[str]
    usd_per_unit: dict[str, float]
    minor_units: dict[str, int]
    category_ids: list[str]
    category_names: list[str]
    category_departments: list[str]
    holidays: dict[str, dict[date, str]]
    reasons: list[ReasonRow]
    merchant_category_codes: list[str]

    @property
    def online_store(self) -> StoreRow:
        return next(s for s in self.stores if s.store_type == "online")

    @property
    def physical_stores(self) -> list[StoreRow]:
        return [s for s in self.stores if s.store_type == "physical"]

    def holiday_coverage(self) -> tuple[date, date]:
        """First and last day of the calendar years that holidays.csv covers."""
        years = sorted({d.year for per_country in self.holidays.values() for d in per_country})
        return date(years[0], 1, 1), date(years[-1], 12, 31)

    def country_timezone(self, country: str) -> str:
        """The country's main time zone (countries.csv): online customers' local time."""
        return self.country_timezones[country]


def _read(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise FileNotFoundError(f"seed file not found: {path}")
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _bool(value: str) -> bool:
    return value.strip().lower() in {"true", "1", "yes", "t"}


def load_reference(seeds_dir: Path) -> Reference:
    """Read every seed the simulator needs from `seeds_dir`."""
    seeds_dir = Path(seeds_dir)
    stores = [
        StoreRow(
            store_id=r["store_id"],
            name=r["store_name"],
            store_type=r["store_type"],
            country_code=r["country_code"],
            timezone=r["timezone"] or "UTC",
            opened_on=date.fromisoformat(r["opened_on"]),
        )
        for r in _read(seeds_dir / "stores.csv")
    ]
    if sum(s.store_type == "online" for s in stores) != 1:
        raise ValueError("stores.csv must contain exactly one online store")
    countries = _read(seeds_dir / "countries.csv")
    currencies = _read(seeds_dir / "currencies.csv")
    categories = _read(seeds_dir / "product_categories.csv")
    holidays: dict[str, dict[date, str]] = {}
    for r in _read(seeds_dir / "holidays.csv"):
        holidays.setdefault(r["country_code"], {})[date.fromisoformat(r["holiday_date"])] = r["holiday_name"]
    if not holidays:
        raise ValueError("holidays.csv is empty")
    reasons = [
        ReasonRow(r["reason_code"], r["card_network"], _bool(r["is_fraud"]))
        for r in _read(seeds_dir / "chargeback_reasons.csv")
    ]
    if not any(r.is_fraud for r in reasons) or all(r.is_fraud for r in reasons):
        raise ValueError("chargeback_reasons.csv needs both fraud and non-fraud reason codes")
    mccs = [r["merchant_category_code"] for r in _read(seeds_dir / "merchant_categories.csv")]
    ref = Reference(
        stores=stores,
        country_codes=[r["country_code"] for r in countries],
        country_currency={r["country_code"]: r["currency_code"] for r in countries},
        country_timezones={r["country_code"]: r["timezone"] for r in countries},
        currency_codes=[r["currency_code"] for r in currencies],
        usd_per_unit={r["currency_code"]: float(r["usd_per_unit"]) for r in currencies},
        minor_units={r["currency_code"]: int(r["minor_units"]) for r in currencies},
        category_ids=[r["category_id"] for r in categories],
        category_names=[r["category_name"] for r in categories],
        category_departments=[r["department"] for r in categories],
        holidays=holidays,
        reasons=reasons,
        merchant_category_codes=mccs,
    )
    missing = {c for c in ref.country_currency.values() if c not in ref.usd_per_unit}
    missing |= {s.country_code for s in stores if s.country_code not in ref.country_currency}
    if missing:
        raise ValueError(f"seeds reference unknown countries/currencies: {sorted(missing)}")
    return ref
