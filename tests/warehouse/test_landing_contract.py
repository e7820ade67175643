"""The landing contract has one home, the source YAML: every reader takes it from the sources' meta."""

from __future__ import annotations

import json
import re

import pytest

from orchestration.lib.landing_inventory import contract_from_manifest
from orchestration.lib.source_meta import SourceMetaError, check_every_source, is_landing, landing_cadence
from tests.conftest import WAREHOUSE_DIR


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads((WAREHOUSE_DIR / "target" / "manifest.json").read_text())


def landing_sources(manifest: dict) -> dict[tuple[str, str], dict]:
    return {(s["source_name"], s["name"]): s for s in manifest["sources"].values() if is_landing(s)}


def test_every_source_says_whether_it_is_a_landing_table_or_an_output_of_the_ml_layer(manifest) -> None:
    check_every_source(manifest)
    assert len(landing_sources(manifest)) == 10


def test_the_audit_models_list_exactly_the_landing_sources(manifest) -> None:
    # dbt needs a model's sources at parse time, so the quarantine and reconciliation models loop
    # over a list in macros/landing_tables.sql: it must name every landing source and nothing else
    sql = manifest["macros"]["macro.warehouse.landing_tables"]["macro_sql"]
    listed = set(re.findall(r"'system': '(\w+)', 'table': '(\w+)'", sql))
    assert listed == set(landing_sources(manifest))


def test_the_inventory_and_the_freshness_checks_read_the_contract_from_meta(manifest) -> None:
    formats = {(t.system, t.table): t.file_format for t in contract_from_manifest(manifest)}
    assert formats.keys() == landing_sources(manifest).keys()
    assert {key for key, value in formats.items() if value == "csv"} == {("disputes", "chargebacks")}
    sources = landing_sources(manifest)
    event_driven = {key for key, source in sources.items() if landing_cadence(source) == "event_driven"}
    assert event_driven == {
        ("catalog", "products"),
        ("catalog", "product_prices"),
        ("marketing", "promotions"),
    }


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        ({}, "meta must say either landing_format"),
        ({"landing_format": "parquet", "written_by": "ml_layer"}, "meta must say either landing_format"),
        ({"landing_format": "xlsx"}, r"meta.landing_format must be one of \('parquet', 'csv'\), got 'xlsx'"),
        ({"landing_format": "csv", "landing_cadence": "weekly"}, "meta.landing_cadence must be one of"),
    ],
)
def test_a_source_with_a_wrong_contract_is_refused_by_name(meta: dict, message: str) -> None:
    source = {"source_name": "crm", "name": "customers", "meta": meta}
    with pytest.raises(SourceMetaError, match=f"source crm.customers: {message}"):
        check_every_source({"sources": {"source.warehouse.crm.customers": source}})


def test_each_domains_audited_tables_are_its_landing_sources() -> None:
    """A domain's landing tables reach the quarantine and reconciliation models through the var
    domain_landing_tables: it must name the landing sources of the domain's YAML, no more."""
    import yaml

    from ml.domains import available, landing_tables

    listed = yaml.safe_load((WAREHOUSE_DIR / "dbt_project.yml").read_text())["vars"]["domain_landing_tables"]
    domains = available()[1:]
    assert domains and set(listed) == set(domains)
    for domain in domains:
        assert {(t["system"], t["table"]) for t in listed[domain]} == set(landing_tables(domain)), domain
