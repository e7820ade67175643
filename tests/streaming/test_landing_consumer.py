"""The landing consumer on a real Redis: payments land in micro-batches of many, by size or by
time, acknowledged only once landed, each once even when a lander dies between its rename and
its acknowledgement, or is slow enough that another lander reclaimed its messages."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import duckdb
import pytest

from ml.atomic_files import staging_path
from streaming.consumer import Streams
from streaming.landing import folder
from streaming.landing_consumer import LandingConsumer
from streaming.redis_broker import RedisBroker
from tests.streaming.events import event

pytestmark = pytest.mark.streaming


@pytest.fixture
def streams() -> Streams:
    tag = uuid.uuid4().hex[:8]
    return Streams(f"payments-{tag}", f"decisions-{tag}", f"dead-{tag}")


def lander(broker: RedisBroker, landing: Path, streams: Streams, name: str, **knobs) -> LandingConsumer:
    knobs = {"max_rows": 1_000, "max_wait_s": 60.0, "block_ms": 0, "reclaim_idle_ms": 150_000} | knobs
    return LandingConsumer(broker, landing, name, streams, **knobs)


def landed(landing: Path) -> list[str]:
    """The landed payment ids, one per row (a payment landed twice shows twice)."""
    with duckdb.connect() as con:
        rows = con.sql(
            f"select payment_id from read_parquet('{folder(landing)}/*/*.parquet') order by 1"
        ).fetchall()
    return [row[0] for row in rows]


def files(landing: Path) -> list[Path]:
    return sorted(folder(landing).glob("date=*/*.parquet"))


def publish(broker: RedisBroker, streams: Streams, count: int, start: int = 0) -> list[str]:
    ids = [f"pay_{i:04d}" for i in range(start, start + count)]
    for payment_id in ids:
        broker.publish(streams.payments, event(payment_id=payment_id))
    return ids


def test_payments_are_held_until_the_batch_is_full_then_landed_in_one_file(
    broker: RedisBroker, streams: Streams, tmp_path: Path
) -> None:
    consumer = lander(broker, tmp_path, streams, "l1", max_rows=250)
    ids = publish(broker, streams, 600)
    steps = [asyncio.run(consumer.step()) for _ in range(3)]
    assert [(s.received, s.landed, s.files) for s in steps] == [(250, 250, 1)] * 2 + [(100, 0, 0)]
    assert landed(tmp_path) == ids[:500] and len(files(tmp_path)) == 2
    assert broker.pending(streams.payments, streams.landers) == 100  # held, not acknowledged
    last = asyncio.run(consumer.step(flush=True))  # as at shutdown
    assert (last.landed, last.files) == (100, 1) and landed(tmp_path) == ids
    assert broker.pending(streams.payments, streams.landers) == 0
    # the only group acknowledged every message: the stream is trimmed (in whole blocks)
    assert sum(step.trimmed for step in [*steps, last]) == 600 - broker.length(streams.payments) > 0


def test_a_batch_lands_when_its_oldest_payment_has_waited_long_enough(
    broker: RedisBroker, streams: Streams, tmp_path: Path
) -> None:
    consumer = lander(
        broker, tmp_path, streams, "l1", max_wait_s=0.3, block_ms=1_000, reclaim_idle_ms=1_000, poll_s=0.1
    )
    publish(broker, streams, 3)
    first = asyncio.run(consumer.step())
    assert (first.received, first.landed) == (3, 0)
    started, steps = time.monotonic(), []
    while not steps or not steps[-1].landed:
        steps.append(asyncio.run(consumer.step()))  # takes more every poll_s until the batch is due
    assert steps[-1].landed == 3 and 0.15 < time.monotonic() - started < 0.9
    assert 2 <= len(steps) <= 4


def test_a_lander_killed_after_landing_leaves_nothing_twice(
    broker: RedisBroker, streams: Streams, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """l1 lands the batch and dies before acknowledging; l2 reclaims the messages, finds them
    landed (the footers), writes nothing and acknowledges them."""
    first = lander(broker, tmp_path, streams, "l1", max_rows=3, reclaim_idle_ms=50, max_wait_s=0.01)
    ids = publish(broker, streams, 3)

    def killed(*args, **kwargs):
        raise SystemExit("killed between landing and acknowledging")

    monkeypatch.setattr(first.broker, "acknowledge", killed)
    with pytest.raises(SystemExit):
        asyncio.run(first.step())
    monkeypatch.undo()
    assert landed(tmp_path) == ids and broker.pending(streams.payments, streams.landers) == 3

    time.sleep(0.1)  # past the reclaim idle time
    second = lander(broker, tmp_path, streams, "l2", max_rows=3, reclaim_idle_ms=50, max_wait_s=0.01)
    step = asyncio.run(second.step())
    assert (step.reclaimed, step.landed, step.already_landed, step.files) == (3, 0, 3, 0)
    assert landed(tmp_path) == ids and broker.pending(streams.payments, streams.landers) == 0


def test_a_slow_lander_leaves_what_another_reclaimed_to_it(
    broker: RedisBroker, streams: Streams, tmp_path: Path
) -> None:
    """l1 holds a batch past l2's reclaim idle time (as a stopped process would); l2 reclaims and
    lands it; l1, going on, finds the messages no longer its own and lands none of them."""
    slow = lander(broker, tmp_path, streams, "l1")
    ids = publish(broker, streams, 2)
    assert asyncio.run(slow.step()).received == 2 and slow.held == 2
    time.sleep(0.1)
    other = lander(broker, tmp_path, streams, "l2", max_rows=2, reclaim_idle_ms=50, max_wait_s=0.01)
    step = asyncio.run(other.step())
    assert (step.reclaimed, step.landed) == (2, 2)
    late = asyncio.run(slow.step(flush=True))
    assert (late.landed, late.lost_to_another) == (0, 2)
    assert landed(tmp_path) == ids and broker.pending(streams.payments, streams.landers) == 0


def test_an_event_the_landing_schema_cannot_hold_is_acknowledged_not_landed(
    broker: RedisBroker, streams: Streams, tmp_path: Path
) -> None:
    """The scorers dead-letter all three; the one the schema can hold lands for the warehouse to
    quarantine (an unknown currency), as a daily file's row would."""
    consumer = lander(broker, tmp_path, streams, "l1", max_rows=3)
    broker.publish(streams.payments, b"{not json")
    broker.publish(streams.payments, event(amount="ten"))
    broker.publish(streams.payments, event(payment_id="pay_xxx", currency="XXX"))
    step = asyncio.run(consumer.step())
    assert (step.received, step.refused, step.landed) == (3, 2, 1)
    assert landed(tmp_path) == ["pay_xxx"] and broker.pending(streams.payments, streams.landers) == 0


def test_a_lander_starting_removes_only_its_own_staging_files(
    broker: RedisBroker, streams: Streams, tmp_path: Path
) -> None:
    day = folder(tmp_path) / "date=2025-03-01"
    day.mkdir(parents=True)
    own = staging_path(day / "part-stream-00000001700000000000-00000000000000000000-l1.parquet")
    others = [staging_path(day / "part-stream-1700000000000-0-xl1.parquet"), day / "part-x.parquet"]
    for path in (own, *others):
        path.write_bytes(b"partial")
    lander(broker, tmp_path, streams, "l1")
    assert not own.exists() and all(path.exists() for path in others)


def test_reclaiming_must_wait_longer_than_a_batch(
    broker: RedisBroker, streams: Streams, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="over twice max_wait_s"):
        lander(broker, tmp_path, streams, "l1", max_wait_s=60.0, reclaim_idle_ms=60_000)
