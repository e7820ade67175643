"""The landing sensor starts one run per new landing day, and only once."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from orchestration.defs.automation import new_landing_day


def test_sensor_requests_a_run_for_each_new_day_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANDING_DIR", str(tmp_path))
    (tmp_path / "payments/payments/date=2025-03-01").mkdir(parents=True)
    first = new_landing_day(dg.build_sensor_context())
    assert isinstance(first, dg.RunRequest) and first.run_key == "landing-2025-03-01"
    again = new_landing_day(dg.build_sensor_context(cursor="2025-03-01"))
    assert isinstance(again, dg.SkipReason)
    (tmp_path / "shop/orders/date=2025-03-02").mkdir(parents=True)
    newer = new_landing_day(dg.build_sensor_context(cursor="2025-03-01"))
    assert isinstance(newer, dg.RunRequest) and newer.tags["landing_day"] == "2025-03-02"


def test_dbt_is_retried_on_a_lock_conflict_and_never_on_a_failed_test() -> None:
    from orchestration.defs.dbt.assets import lock_retry_or_raise

    locked = RuntimeError('IO Error: Could not set lock on file "warehouse.duckdb": Conflicting lock is held')
    with pytest.raises(dg.RetryRequested) as retry:
        lock_retry_or_raise(locked, retry_number=2)
    assert retry.value.seconds_to_wait == 40 and retry.value.max_retries == 3
    failed_test = RuntimeError("Failure in test accepted_values_int_order_items_aggregated_currency_count")
    with pytest.raises(RuntimeError, match="Failure in test"):
        lock_retry_or_raise(failed_test, retry_number=0)


def test_landing_freshness_flags_a_system_that_stopped_exporting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestration.defs.dbt.checks import MAX_LAG_DAYS, lag_days
    from orchestration.lib.landing import newest_days

    monkeypatch.setenv("LANDING_DIR", str(tmp_path))
    for folder in (
        "payments/payments/date=2025-03-10",
        "crm/customers/date=2025-03-09",
        "shop/orders/date=2025-03-05",
    ):
        (tmp_path / folder).mkdir(parents=True)
    newest = newest_days()
    assert lag_days(newest, ("payments", "payments")) == 0
    assert lag_days(newest, ("crm", "customers")) == 1 <= MAX_LAG_DAYS
    assert lag_days(newest, ("shop", "orders")) == 5 > MAX_LAG_DAYS
    assert lag_days(newest, ("disputes", "chargebacks")) is None
