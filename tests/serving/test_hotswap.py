"""Hot swap: a new published snapshot is loaded off the event loop and swapped in without failing
a request; the payments scored online since the old snapshot are replayed into the new state."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from serving.hotswap import ModelHolder, SnapshotWatcher, file_identity
from serving.schemas import Payment
from tests.serving.fakes import SCORE_PATH, FakeModel, fake_app, payment_json, wait_ready


def payment(payment_id: str, paid_at: str = "2026-02-01T10:00:00Z") -> Payment:
    return Payment.model_validate(payment_json(payment_id=payment_id, paid_at=paid_at))


def publish(snapshot: Path, content: bytes) -> None:
    """As the publisher does: write a new file and rename it over the old one."""
    staging = snapshot.with_name(".staging")
    staging.write_bytes(content)
    os.replace(staging, snapshot)


def test_a_replaced_file_has_a_new_identity(tmp_path: Path) -> None:
    snapshot = tmp_path / "analytics.duckdb"
    assert file_identity(snapshot) is None
    publish(snapshot, b"one")
    first = file_identity(snapshot)
    publish(snapshot, b"one")  # same bytes, new inode
    assert file_identity(snapshot) not in (None, first)


def test_in_flight_scoring_finishes_on_the_old_model_and_late_payments_are_replayed() -> None:
    holder, old = ModelHolder(), FakeModel(version=1)
    holder.current = old
    holder.score([payment("before")])  # on the old snapshot's state, not in the new snapshot
    release, loading = threading.Event(), threading.Event()
    new = FakeModel(version=2, held={"in_new_snapshot"})

    def slow_load() -> FakeModel:
        loading.set()
        release.wait(5)
        return new

    async def scenario() -> list[int]:
        swap = asyncio.create_task(holder.swap_in(slow_load))
        while not loading.is_set():
            await asyncio.sleep(0.001)
        # while the new model loads in a worker thread, requests are served by the old one
        during = [holder.score([payment(pid)])[1][0].model_version for pid in ("during", "in_new_snapshot")]
        release.set()
        await swap
        after = holder.score([payment("after")])[1][0].model_version
        return [*during, after]

    assert asyncio.run(scenario()) == [1, 1, 2]
    assert old.recorded == ["before", "during", "in_new_snapshot"]
    # the new state gets, in order: the journal minus what its snapshot holds (checked in the worker
    # thread), the payments scored during the load (recorded on the event loop just before the
    # swap, unchecked: the store ignores an id it holds), then its own traffic
    assert new.recorded == ["before", "during", "in_new_snapshot", "after"]
    assert [p.payment_id for p in holder.journal] == ["before", "during", "in_new_snapshot", "after"]


def test_the_journal_forgets_payments_the_new_snapshot_holds() -> None:
    holder = ModelHolder()
    holder.current = FakeModel(version=1)
    holder.score([payment("a"), payment("b")])
    asyncio.run(holder.swap_in(lambda: FakeModel(version=2, held={"a"})))
    assert [p.payment_id for p in holder.journal] == ["b"]
    assert holder.current is not None and holder.current.recorded == ["b"]


def test_the_journal_is_bounded_by_count_and_by_age_and_says_what_it_dropped() -> None:
    """Payments that never reach the warehouse would stay in the journal forever: past
    `max_journal` the oldest go as new ones are scored; at a swap, those more than
    `max_journal_age` older than the newest go (no velocity window reaches them any more)."""
    dropped: list[tuple[str, int]] = []
    holder = ModelHolder(
        max_journal=3, max_journal_age=timedelta(days=30), on_dropped=lambda *d: dropped.append(d)
    )
    holder.current = FakeModel(version=1)
    holder.score([payment("jan", "2026-01-01T00:00:00Z")])
    holder.score([payment(f"feb{n}", f"2026-02-0{n}T00:00:00Z") for n in range(1, 4)])
    assert [p.payment_id for p in holder.journal] == ["feb1", "feb2", "feb3"] and dropped == [("count", 1)]
    holder.score([payment("mar", "2026-03-05T00:00:00Z")])  # feb1 goes by count
    release, loading = threading.Event(), threading.Event()
    new = FakeModel(version=2)

    def slow_load() -> FakeModel:
        loading.set()
        release.wait(5)
        return new

    async def scenario() -> None:
        swap = asyncio.create_task(holder.swap_in(slow_load))
        while not loading.is_set():
            await asyncio.sleep(0.001)
        # during the load two more arrive: the count bound drops feb2 and feb3 from the journal
        holder.score([payment("late1", "2026-03-06T00:00:00Z"), payment("late2", "2026-03-06T00:00:01Z")])
        release.set()
        await swap

    asyncio.run(scenario())
    # replayed: what the journal held when the load began, then the two late ones; kept after the
    # swap: within 30 days of the newest (feb2 and feb3 are older), at most 3
    assert new.recorded == ["feb2", "feb3", "mar", "late1", "late2"]
    assert [p.payment_id for p in holder.journal] == ["mar", "late1", "late2"]
    assert dropped == [("count", 1), ("count", 1), ("count", 2), ("age", 2)]


def test_journal_drops_are_counted_in_the_metrics(tmp_path: Path) -> None:
    with TestClient(fake_app(tmp_path, journal_max_payments=2)) as client:
        wait_ready(client)
        batch = {"payments": [payment_json(payment_id=f"pay_{n}") for n in range(5)]}
        assert client.post(SCORE_PATH, json=batch).status_code == 200
        text = client.get("/metrics").text
    assert 'scoring_api_journal_dropped_total{reason="count"} 3.0' in text


def test_a_failed_load_keeps_the_old_model_and_is_retried(tmp_path: Path) -> None:
    snapshot = tmp_path / "analytics.duckdb"
    publish(snapshot, b"v1")
    holder, versions, failures = ModelHolder(), iter([1, None, 3]), []

    def load() -> FakeModel:
        version = next(versions)
        if version is None:
            raise RuntimeError("champion artifact missing")
        return FakeModel(version=version)

    watcher = SnapshotWatcher(
        snapshot, holder, load, 0.01, on_loaded=lambda _: None, on_failed=failures.append
    )

    async def scenario() -> list[tuple[bool, int]]:
        steps = [await watcher.check()]
        steps.append(await watcher.check())  # unchanged file: nothing to do
        publish(snapshot, b"v2")
        steps.append(await watcher.check())  # the load fails
        steps.append(await watcher.check())  # the same file is tried again, and loads
        assert holder.current is not None
        return [(step, holder.current.info.version) for step in steps]

    outcome = asyncio.run(scenario())
    assert [step for step, _ in outcome] == [True, False, False, True]
    assert holder.current.info.version == 3
    assert [str(error) for error in failures] == ["champion artifact missing"]


def test_the_app_swaps_models_without_failing_a_request(tmp_path: Path) -> None:
    snapshot = tmp_path / "analytics.duckdb"
    publish(snapshot, b"v1")
    loads = iter(range(1, 100))

    def slow_load() -> FakeModel:
        time.sleep(0.2)  # loading a champion and a feature store takes a while
        return FakeModel(version=next(loads))

    with TestClient(fake_app(tmp_path, load=slow_load)) as client:
        wait_ready(client)
        statuses, versions = [], []
        publish(snapshot, b"v2")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (not versions or versions[-1] < 2):
            response = client.post(SCORE_PATH, json=payment_json(payment_id=f"p{len(statuses)}"))
            statuses.append(response.status_code)
            if response.status_code == 200:
                versions.append(response.json()["results"][0]["model_version"])
        ready = client.get("/readyz").json()
    assert set(statuses) == {200}
    assert versions[0] == 1 and versions[-1] == 2
    assert versions == sorted(versions)  # never back to the old model once swapped
    assert versions.count(1) > 1  # requests kept being served during the 200 ms load
    assert ready == {"status": "ready", "model_name": "payment_fraud", "model_version": 2}
