"""The audit log: every request and every scored payment lands in Parquet, identifiers hashed."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient

from serving.audit import AuditLog
from serving.pii import PiiHasher
from serving.settings import DEFAULT_PII_SALT
from tests.serving.fakes import SCORE_PATH, fake_app, payment_json, wait_ready

RAW = {"customer_id": "C777", "card_fingerprint": "cd" * 32, "device_id": "dev_secret"}


def read(log_dir: Path, table: str) -> list[dict]:
    files = f"{log_dir}/{table}/**/*.parquet"
    with duckdb.connect() as con:
        return con.sql(f"select * from read_parquet('{files}', hive_partitioning = true)").pl().to_dicts()


def test_the_hash_is_hmac_sha256_under_the_salt() -> None:
    expected = hmac.new(b"s3cret", b"C777", hashlib.sha256).hexdigest()
    assert PiiHasher("s3cret")("C777") == expected
    assert PiiHasher("other")("C777") != expected
    assert PiiHasher("s3cret")(None) is None


def test_requests_and_scores_are_logged_with_identifiers_hashed(tmp_path: Path) -> None:
    log_dir = tmp_path / "serving_log"
    with TestClient(fake_app(tmp_path, pii_salt="pepper")) as client:
        wait_ready(client)
        scored = client.post(SCORE_PATH, json=payment_json(**RAW, amount_usd=800.0))
        refused = client.post(SCORE_PATH, json=payment_json(**RAW, amount_usd=-1))
        client.get("/healthz")  # probes are not audited
    # the lifespan's shutdown flushed the buffer
    requests = {row["request_id"]: row for row in read(log_dir, "requests")}
    assert set(requests) == {scored.headers["x-request-id"], refused.headers["x-request-id"]}
    ok, bad = requests[scored.headers["x-request-id"]], requests[refused.headers["x-request-id"]]
    assert (ok["status"], ok["payments"], ok["model_version"], ok["error"]) == (200, 1, 1, None)
    assert ok["path"] == SCORE_PATH and ok["latency_ms"] > 0
    assert (bad["status"], bad["payments"]) == (422, None)
    assert '"field":"amount_usd"' in bad["error"]

    (row,) = read(log_dir, "scores")
    assert row["request_id"] == scored.headers["x-request-id"]
    hasher = PiiHasher("pepper")
    for field, value in RAW.items():
        assert row[f"{field}_hash"] == hasher(value)
    assert (row["score"], row["is_flagged"], row["reason_codes"]) == (0.8, True, ["amount_usd"])
    assert (row["model_name"], row["model_version"], row["operating_threshold"]) == ("payment_fraud", 1, 0.5)
    assert str(row["paid_at"]) == "2026-02-01 10:00:00"
    assert row["ip_country"] == "US" and row["amount_usd"] == 800.0
    cells = {str(value) for logged in (requests.values(), [row]) for r in logged for value in r.values()}
    assert not cells & set(RAW.values())
    # every file was renamed into place
    assert not [p for p in log_dir.rglob("*") if p.is_file() and p.suffix != ".parquet"]


def test_the_default_salt_is_used_without_the_environment_variable(monkeypatch) -> None:
    from serving.settings import ServingSettings

    monkeypatch.delenv("SERVE_PII_SALT", raising=False)
    assert ServingSettings.from_env().pii_salt == DEFAULT_PII_SALT
    monkeypatch.setenv("SERVE_PII_SALT", "deployment-secret")
    assert ServingSettings.from_env().pii_salt == "deployment-secret"


def wait_for_files(directory: Path, timeout: float = 5.0) -> list[Path]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = list(directory.rglob("*.parquet"))
        if found:
            return found
        time.sleep(0.01)
    return []


def test_the_buffer_is_written_once_it_holds_flush_rows(tmp_path: Path) -> None:
    with TestClient(fake_app(tmp_path, audit_flush_rows=4, audit_flush_seconds=3600)) as client:
        wait_ready(client)
        batch = {"payments": [payment_json(payment_id=f"p{i}") for i in range(4)]}
        client.post(SCORE_PATH, json=batch)
        assert wait_for_files(tmp_path / "serving_log" / "scores"), "not flushed at 4 rows"


def test_the_buffer_is_written_every_flush_seconds(tmp_path: Path) -> None:
    with TestClient(fake_app(tmp_path, audit_flush_seconds=0.05)) as client:
        wait_ready(client)
        client.post(SCORE_PATH, json=payment_json())
        assert wait_for_files(tmp_path / "serving_log" / "scores"), "not flushed after 50 ms"


def test_rows_that_could_not_be_written_are_kept_for_the_next_flush(tmp_path: Path) -> None:
    blocked = tmp_path / "log"
    blocked.write_text("a file where the log directory should be")
    audit = AuditLog(blocked, "salt", flush_rows=1_000, flush_seconds=60)

    async def scenario() -> tuple[bool, int, bool, int]:
        audit.log_request("r1", "POST", SCORE_PATH, 200, 1.0, 1, 1, None)
        failed = await audit.flush()
        kept = audit.pending
        blocked.unlink()
        return failed, kept, await audit.flush(), audit.pending

    assert asyncio.run(scenario()) == (False, 1, True, 0)
    assert [row["request_id"] for row in read(blocked, "requests")] == ["r1"]


@pytest.mark.parametrize("day", ["2026-02-01", "2026-02-02"])
def test_files_are_partitioned_by_the_day_rows_were_logged(tmp_path: Path, day: str) -> None:
    from datetime import datetime

    from serving.audit import REQUEST_SCHEMA, ParquetSink

    sink = ParquetSink(tmp_path, REQUEST_SCHEMA)
    logged_at = datetime.fromisoformat(f"{day}T23:59:59")
    sink.append([{"request_id": "r", "logged_at": logged_at, "method": "POST", "path": "/", "status": 200}])
    (written,) = sink.write(sink.take())
    assert written.parent.name == f"logged_on={day}"


def test_a_flush_retried_across_a_day_boundary_writes_each_row_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A buffer holding rows of two days is two files; when the second day's file fails, the retry
    writes that day only: the first day's file was already renamed into place."""
    from datetime import datetime

    import serving.audit as audit_module

    audit = AuditLog(tmp_path / "log", "salt", flush_rows=1_000, flush_seconds=60)
    days = {
        "r1": "2026-02-01T23:59:59.900000",
        "r2": "2026-02-01T23:59:59.950000",
        "r3": "2026-02-02T00:00:00.010000",
    }
    clock = iter(datetime.fromisoformat(at) for at in days.values())
    monkeypatch.setattr(audit_module, "utc_now", lambda: next(clock))
    real_write = audit_module.pq.write_table
    failures = iter([True])  # the second day's file fails once; the first day's is written

    def flaky(table, where, *args, **kwargs):
        if "logged_on=2026-02-02" in str(where) and next(failures, False):
            raise OSError(5, "Input/output error (injected)")
        return real_write(table, where, *args, **kwargs)

    monkeypatch.setattr(audit_module.pq, "write_table", flaky)

    async def scenario() -> tuple[bool, int, bool, int]:
        for request_id in days:
            audit.log_request(request_id, "POST", SCORE_PATH, 200, 1.0, 1, 1, None)
        first = await audit.flush()
        kept = audit.pending
        return first, kept, await audit.flush(), audit.pending

    assert asyncio.run(scenario()) == (False, 1, True, 0)
    rows = read(tmp_path / "log", "requests")
    assert sorted(row["request_id"] for row in rows) == ["r1", "r2", "r3"]  # none twice
    assert {str(row["logged_on"]) for row in rows} == {"2026-02-01", "2026-02-02"}
    assert not list((tmp_path / "log").rglob(".*.tmp"))  # the failed file's staging copy is gone
