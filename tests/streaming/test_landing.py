"""Micro-batch files: the landing contract's columns, one file per landing day, committed by a
rename, and a ledger in their footers that says which messages already landed."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from streaming.landing import PAYMENTS, LandingMessage, landed_ids, stream_files, write_micro_batch

pytestmark = pytest.mark.streaming


def message(number: int, day: date) -> LandingMessage:
    row = {
        "payment_id": f"pay_stream_{number}",
        "order_id": f"ord_{number}",
        "customer_id": "C1",
        "card_fingerprint": "ab" * 32,
        "device_id": "dev_1",
        "amount": Decimal("12.50"),
        "currency": "USD",
        "paid_at": f"{day.isoformat()}T10:00:0{number % 10}Z",
        "channel": "online",
        "merchant_category_code": "5411",
        "ip_country": "US",
        "payment_status": "authorized",
    }
    return LandingMessage(f"1700000000000-{number}", day, row)


def test_a_micro_batch_lands_as_one_file_per_day_readable_as_the_daily_exports(tmp_path: Path) -> None:
    first, second = date(2025, 3, 1), date(2025, 3, 2)
    batch = [message(1, first), message(2, second), message(3, first)]
    written = write_micro_batch(tmp_path, "consumer-1", batch)
    assert [p.parent.name for p in written] == ["date=2025-03-01", "date=2025-03-02"]
    assert all(p.name.startswith("part-stream-") for p in written)
    # the dbt source's own glob and options
    glob = f"{tmp_path}/payments/payments/*/*.parquet"
    with duckdb.connect() as con:
        rows = con.sql(
            f"select payment_id, date, amount from read_parquet('{glob}', hive_partitioning = true, "
            "union_by_name = true) order by payment_id"
        ).fetchall()
    assert [(r[0], str(r[1])) for r in rows] == [
        ("pay_stream_1", "2025-03-01"),
        ("pay_stream_2", "2025-03-02"),
        ("pay_stream_3", "2025-03-01"),
    ]
    assert pq.read_schema(written[0]).names == PAYMENTS.schema.names and rows[0][2] == Decimal("12.50")
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".parquet"]


def test_the_footers_say_which_messages_landed(tmp_path: Path) -> None:
    day = date(2025, 3, 1)
    write_micro_batch(tmp_path, "c1", [message(1, day), message(2, day)])
    files = stream_files(tmp_path)
    wanted = {"1700000000000-1", "1700000000000-2", "1700000000000-9"}
    assert landed_ids(files, wanted) == {"1700000000000-1", "1700000000000-2"}
    assert stream_files(tmp_path, modified_since=files[0].stat().st_mtime + 60) == []


def test_a_write_that_fails_midway_lands_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = pq.write_table

    def half_then_fail(table, where, *args, **kwargs):
        real_write(table.slice(0, 1), where, *args, **kwargs)
        raise OSError(28, "No space left on device (injected)")

    monkeypatch.setattr(pq, "write_table", half_then_fail)
    day = date(2025, 3, 1)
    with pytest.raises(OSError, match="No space left"):
        write_micro_batch(tmp_path, "c1", [message(1, day), message(2, day)])
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]
    assert landed_ids(stream_files(tmp_path), {"1700000000000-1"}) == set()


def test_the_files_sort_as_their_first_message_ids(tmp_path: Path) -> None:
    """Where the warehouse keeps one of two copies of a re-sent payment, it falls back on file
    order: "…-100" must not sort before "…-50"."""
    day = date(2025, 3, 1)
    written = [write_micro_batch(tmp_path, "c1", [message(n, day)])[0] for n in (9, 50, 100)]
    assert sorted(written) == written
