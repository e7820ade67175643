"""The landing sensor starts one run for the new landing days, and only once; schedules pick a day."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.instance.ref import InstanceRef

from orchestration.defs.automation import new_landing_day


def test_sensor_requests_one_run_for_the_new_days_and_only_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANDING_DIR", str(tmp_path))
    for day in ("2025-02-27", "2025-02-28", "2025-03-01"):
        (tmp_path / f"payments/payments/date={day}").mkdir(parents=True)
    # the first tick starts from the newest day (history is loaded by `make run` or a backfill)
    instance = dg.DagsterInstance.ephemeral()
    first = new_landing_day(dg.build_sensor_context(instance=instance))
    assert isinstance(first, dg.RunRequest) and first.partition_key == "2025-03-01"
    assert first.run_key == "landing-2025-03-01"
    # every day present is a partition, registered in date order (a range runs between two keys)
    assert instance.get_dynamic_partitions("landing_day") == ["2025-02-27", "2025-02-28", "2025-03-01"]
    again = new_landing_day(dg.build_sensor_context(cursor="2025-03-01", instance=instance))
    assert isinstance(again, dg.SkipReason)
    # several days at once (say, after an outage): one run over the range, not one run per day
    for day in ("2025-03-02", "2025-03-03"):
        (tmp_path / f"shop/orders/date={day}").mkdir(parents=True)
    newer = new_landing_day(dg.build_sensor_context(cursor="2025-03-01", instance=instance))
    assert isinstance(newer, dg.RunRequest) and newer.partition_key is None
    assert newer.tags["dagster/asset_partition_range_start"] == "2025-03-02"
    assert newer.tags["dagster/asset_partition_range_end"] == "2025-03-03"
    assert instance.get_dynamic_partitions("landing_day")[-2:] == ["2025-03-02", "2025-03-03"]


def test_schedules_run_yesterdays_landing_day_once_it_arrived(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestration.defs.automation import daily_schedule, weekly_retraining

    landing = tmp_path / "landing"
    monkeypatch.setenv("LANDING_DIR", str(landing))
    monday_6am = datetime(2025, 3, 3, 6, tzinfo=UTC)
    # a persistent instance of the test's own (dg.instance_for_test would leave global state behind)
    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        for schedule in (daily_schedule, weekly_retraining):
            with dg.build_schedule_context(instance, scheduled_execution_time=monday_6am) as context:
                assert isinstance(schedule(context), dg.SkipReason)  # nothing landed on 2025-03-02
        (landing / "payments/payments/date=2025-03-02").mkdir(parents=True)
        for schedule in (daily_schedule, weekly_retraining):
            with dg.build_schedule_context(instance, scheduled_execution_time=monday_6am) as context:
                request = schedule(context)
            assert isinstance(request, dg.RunRequest) and request.partition_key == "2025-03-02"
        assert instance.get_dynamic_partitions("landing_day") == ["2025-03-02"]


def test_a_day_registered_late_keeps_the_partitions_in_date_order() -> None:
    # a range run covers the keys between its two ends in the order they were added: a day added
    # after a newer one would fall outside the range that names it
    from datetime import date

    from orchestration.lib.partitions import register_landing_days

    instance = dg.DagsterInstance.ephemeral()
    register_landing_days(instance, [date(2025, 3, 1), date(2025, 3, 3)])
    assert register_landing_days(instance, [date(2025, 3, 2), date(2025, 3, 3)]) == ["2025-03-02"]
    assert instance.get_dynamic_partitions("landing_day") == ["2025-03-01", "2025-03-02", "2025-03-03"]
    assert register_landing_days(instance, [date(2025, 3, 1)]) == []


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
