"""The digest that lets `make run` skip a run: it changes with every input, and what a run records
is what the run read (orchestration/lib/inputs.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orchestration.lib.inputs import digest_after_run, inputs_digest, landing_listing, project_digest


@pytest.fixture
def landing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "landing"
    for day in ("2025-01-01", "2025-01-02"):
        folder = root / "payments" / "payments" / f"date={day}"
        folder.mkdir(parents=True)
        (folder / "part-0.parquet").write_bytes(b"rows of " + day.encode())
    monkeypatch.setenv("LANDING_DIR", str(root))
    return root


def digest() -> str:
    return inputs_digest(landing_listing(), project_digest())


def test_the_digest_is_stable_and_follows_every_landing_change(landing: Path) -> None:
    first = digest()
    assert digest() == first
    new_day = landing / "payments" / "payments" / "date=2025-01-03"
    new_day.mkdir()
    (new_day / "part-0.parquet").write_bytes(b"more rows")
    with_new_day = digest()
    assert with_new_day != first
    resent = landing / "payments" / "payments" / "date=2025-01-01" / "part-0.parquet"
    stat = resent.stat()
    os.utime(resent, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # re-sent: same size
    assert digest() != with_new_day


def test_the_digest_follows_the_settings(landing: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = digest()
    monkeypatch.setenv("WAREHOUSE_PII_SALT", "another salt")
    salted = digest()
    assert salted != first
    monkeypatch.setenv("WAREHOUSE_ENGINE", "spark")  # the same inputs on another engine: a new run
    assert digest() != salted


def test_a_run_records_what_it_read(landing: Path) -> None:
    before, project = landing_listing(), project_digest()
    # the inventory moved an unreadable file out: the landing zone as the run left it
    rejected = landing / "payments" / "payments" / "date=2025-01-02" / "part-0.parquet"
    rejected.unlink()
    assert digest_after_run(before, project) == inputs_digest(landing_listing(), project)
    # a file arrived while the run worked: the run did not read it, so the next run must see it
    late = landing / "payments" / "payments" / "date=2025-01-04"
    late.mkdir()
    (late / "part-0.parquet").write_bytes(b"late")
    assert digest_after_run(before, project) == inputs_digest(before, project)
