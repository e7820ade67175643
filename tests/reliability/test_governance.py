"""Security and governance of what analysts get: no raw PII in the published file, read-only access
through the documented path, and no secrets in the repository."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.conftest import REPO_ROOT
from tests.pipeline import PipelineRun

# What raw PII looks like in a text value (full match on the trimmed value).
PII_PATTERNS = {
    "email": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
    "phone": r"\+?[0-9][0-9 ().-]{7,}[0-9]",
    "card_number": r"[0-9]{13,19}|([0-9]{4}[ -]){3}[0-9]{1,7}",
}


def pii_findings(database: Path) -> dict[str, int]:
    """'schema.table.column:kind' -> values that look like raw PII, over every text column."""
    findings: dict[str, int] = {}
    with duckdb.connect(str(database), read_only=True) as con:
        columns = con.sql(
            "select schema_name, table_name, column_name from duckdb_columns() "
            "where data_type = 'VARCHAR' order by all"
        ).fetchall()
        for schema, table, column in columns:
            for kind, pattern in PII_PATTERNS.items():
                (hits,) = con.execute(
                    f'select count(*) from "{schema}"."{table}" where regexp_full_match(trim("{column}"), ?)',
                    [pattern],
                ).fetchone()
                if hits:
                    findings[f"{schema}.{table}.{column}:{kind}"] = hits
    return findings


def test_the_scanner_finds_planted_pii(tmp_path: Path) -> None:
    planted = tmp_path / "leak.duckdb"
    with duckdb.connect(str(planted)) as con:
        con.execute("create table t (note varchar, ok varchar)")
        con.execute(
            "insert into t values ('jane.doe@example.com', 'S001'), ('+44 20 7946 0958', 'P00001'), "
            "('4111111111111111', 'online')"
        )
    assert pii_findings(planted) == {
        "main.t.note:email": 1,
        "main.t.note:phone": 2,  # a bare card number also looks like a phone number
        "main.t.note:card_number": 1,
    }


@pytest.mark.slow
def test_the_published_file_has_no_raw_pii(tiny_pipeline_run: PipelineRun) -> None:
    assert tiny_pipeline_run.result.returncode == 0
    assert pii_findings(tiny_pipeline_run.env.analytics) == {}


@pytest.mark.slow
def test_the_build_file_does_hold_pii_so_the_scan_is_not_vacuous(tiny_pipeline_run: PipelineRun) -> None:
    findings = pii_findings(tiny_pipeline_run.env.database)
    assert any(key.startswith("staging.base_crm__customers.email") for key in findings), findings


@pytest.mark.slow
@pytest.mark.parametrize(
    "write",
    ["create table marts.t (x int)", "delete from marts.fct_payments", "drop table ml.payment_fraud_scores"],
)
def test_analyst_access_is_read_only(tiny_pipeline_run: PipelineRun, write: str) -> None:
    """The documented path: `duckdb -readonly data/analytics.duckdb` (the duckdb-cli package)."""
    analytics = tiny_pipeline_run.env.analytics
    cli = Path(sys.executable).with_name("duckdb")
    result = subprocess.run(
        [str(cli), "-readonly", str(analytics), "-c", write], capture_output=True, text=True, timeout=60
    )
    assert "read-only" in (result.stdout + result.stderr).lower(), result
    with (
        duckdb.connect(str(analytics), read_only=True) as con,
        pytest.raises(duckdb.Error, match="read-only"),
    ):
        con.execute(write)


SECRET_PATTERNS = {
    "private key": r"-----BEGIN [A-Z ]*PRIVATE KEY-----",
    "aws access key": r"AKIA[0-9A-Z]{16}",
    "assigned password": r"(?i)\b(password|passwd|secret|api_key|token)\s*[:=]\s*['\"][^'\"\s]{6,}['\"]",
    "url with credentials": r"[a-z]+://[^/\s:@]+:[^/\s:@]+@",
}


def test_no_secrets_in_the_repository() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    found = []
    for name in tracked:
        path = REPO_ROOT / name
        if path.suffix in {".png", ".lock"} or not path.is_file():
            continue
        text = path.read_text(errors="ignore")
        found += [f"{name}: {kind}" for kind, pattern in SECRET_PATTERNS.items() if re.search(pattern, text)]
    assert found == []


def test_paths_and_salts_come_from_the_environment_with_safe_defaults() -> None:
    profile = (REPO_ROOT / "warehouse" / "profiles.yml").read_text()
    assert "env_var('WAREHOUSE_DB'" in profile and "password" not in profile
    # the salt reaches DuckDB through the profile's plugin, never through the project's SQL
    assert "env_var('WAREHOUSE_PII_SALT'" in profile and "module: pii_salt" in profile
    project = (REPO_ROOT / "warehouse" / "dbt_project.yml").read_text()
    assert "PII_SALT" not in project
