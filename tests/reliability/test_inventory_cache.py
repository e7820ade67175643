"""The landing inventory's cache: a file found on contract is not read again, unless it changed or
its contract did; a file broken after it was cached is still caught."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import orchestration.lib.landing_inventory as inventory_module
from orchestration.lib.landing_inventory import ContractError, take_inventory
from tests.reliability.test_bad_input import a_payment, one_file_landing, payments_table


def _reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Record every parquet file the inventory reads."""
    reads, read_table = [], pq.read_table

    def counting(path, *args, **kwargs):
        reads.append(Path(path))
        return read_table(path, *args, **kwargs)

    monkeypatch.setattr(inventory_module.pq, "read_table", counting)
    return reads


def test_a_file_on_contract_is_read_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = one_file_landing(tmp_path, "payments", a_payment())
    cache, reads = tmp_path / "inventory.json", _reads(monkeypatch)
    args = (payments_table(), tmp_path / "landing", tmp_path / "rejected")
    first = take_inventory(*args, cache=cache)
    second = take_inventory(*args, cache=cache)
    assert reads == [path]
    assert first.checked == second.checked and len(second.checked) == 1
    assert not list(tmp_path.glob("*.tmp"))
    take_inventory(*args)  # without a cache every file is read
    assert reads == [path, path]


def test_a_file_rewritten_after_it_was_cached_is_checked_again(tmp_path: Path) -> None:
    path = one_file_landing(tmp_path, "payments", a_payment())
    cache = tmp_path / "inventory.json"
    args = (payments_table(), tmp_path / "landing", tmp_path / "rejected")
    take_inventory(*args, cache=cache)
    path.write_bytes(path.read_bytes()[:-20])  # truncated in place: a later corrupt re-write
    inventory = take_inventory(*args, cache=cache)
    assert not inventory.checked and [r.reason for r in inventory.rejected] == ["unreadable_parquet"]


def test_a_file_with_the_same_size_and_a_new_time_is_checked_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = one_file_landing(tmp_path, "payments", a_payment())
    cache, reads = tmp_path / "inventory.json", _reads(monkeypatch)
    args = (payments_table(), tmp_path / "landing", tmp_path / "rejected")
    take_inventory(*args, cache=cache)
    broken = bytearray(path.read_bytes())
    broken[len(broken) // 2 : len(broken) // 2 + 8] = b"\xff" * 8  # same size, damaged pages
    path.write_bytes(bytes(broken))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    inventory = take_inventory(*args, cache=cache)
    assert reads == [path, path]  # read again, whatever the damage did to it
    assert len(inventory.checked) + len(inventory.rejected) == 1


def test_a_changed_contract_rechecks_cached_files(tmp_path: Path) -> None:
    one_file_landing(tmp_path, "payments", a_payment().drop_columns(["ip_country"]))
    cache = tmp_path / "inventory.json"
    tables = payments_table()
    relaxed = [replace(tables[0], columns=tuple(c for c in tables[0].columns if c.name != "ip_country"))]
    take_inventory(relaxed, tmp_path / "landing", tmp_path / "rejected", cache=cache)
    with pytest.raises(ContractError, match="required column 'ip_country' is missing"):
        take_inventory(tables, tmp_path / "landing", tmp_path / "rejected", cache=cache)


def test_a_damaged_cache_means_a_full_check(tmp_path: Path) -> None:
    one_file_landing(tmp_path, "payments", a_payment())
    cache = tmp_path / "inventory.json"
    cache.write_text("{not json")
    inventory = take_inventory(payments_table(), tmp_path / "landing", tmp_path / "rejected", cache=cache)
    assert len(inventory.checked) == 1


def _days_of_payments(tmp_path: Path, days: int) -> list[Path]:
    paths = []
    for day in range(1, days + 1):
        folder = tmp_path / "landing" / "payments" / "payments" / f"date=2025-03-{day:02d}"
        folder.mkdir(parents=True)
        pq.write_table(a_payment(), folder / "part-00000.parquet")
        paths.append(folder / "part-00000.parquet")
    return paths


def _slowest_first(monkeypatch: pytest.MonkeyPatch, paths: list[Path]) -> None:
    """Reads finish in reverse file order: the first file's read takes longest."""
    read_table, delay = pq.read_table, {path: 0.02 * (len(paths) - i) for i, path in enumerate(paths)}

    def slow(path, *args, **kwargs):
        time.sleep(delay.get(Path(path), 0))
        return read_table(path, *args, **kwargs)

    monkeypatch.setattr(inventory_module.pq, "read_table", slow)


def test_files_read_in_parallel_are_concluded_in_file_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = _days_of_payments(tmp_path, 8)
    paths[2].write_bytes(b"not parquet")  # rejected, while later files are still being read
    _slowest_first(monkeypatch, paths)
    inventory = take_inventory(payments_table(), tmp_path / "landing", tmp_path / "rejected")
    assert [checked.path for checked in inventory.checked] == paths[:2] + paths[3:]
    assert [rejected.landing_file for rejected in inventory.rejected] == [paths[2]]


def test_the_first_contract_break_in_file_order_stops_the_inventory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = _days_of_payments(tmp_path, 6)
    for broken in (paths[0], paths[2]):  # the later one's read ends first (all four start at once)
        pq.write_table(a_payment().drop_columns(["payment_id"]), broken)
    _slowest_first(monkeypatch, paths)
    with pytest.raises(ContractError, match="date=2025-03-01"):
        take_inventory(payments_table(), tmp_path / "landing", tmp_path / "rejected")
