"""The consumer on a real Redis: decisions published once, payments landed once, malformed events
dead-lettered with their reason, and a consumer that dies between landing and acknowledging
leaves nothing twice."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

import duckdb
import pytest

from serving.hotswap import ModelHolder
from streaming.consumer import StreamConsumer, Streams
from streaming.redis_broker import RedisBroker
from tests.serving.fakes import FakeModel
from tests.streaming.events import event

pytestmark = pytest.mark.streaming


@pytest.fixture
def streams() -> Streams:
    tag = uuid.uuid4().hex[:8]
    return Streams(f"payments-{tag}", f"decisions-{tag}", f"dead-{tag}", "scorers")


def consumer(broker: RedisBroker, landing: Path, streams: Streams, name: str) -> StreamConsumer:
    holder = ModelHolder()
    holder.current = FakeModel()
    return StreamConsumer(broker, holder, landing, name, streams, block_ms=0, reclaim_idle_ms=50)


def bodies(broker: RedisBroker, stream: str) -> list[dict]:
    return [json.loads(fields[b"body"]) for _, fields in broker._redis.xrange(stream)]


def landed_payment_ids(landing: Path) -> list[str]:
    files = f"{landing}/payments/payments/*/*.parquet"
    with duckdb.connect() as con:
        rows = con.sql(f"select payment_id from read_parquet('{files}') order by 1").fetchall()
    return [row[0] for row in rows]


def test_decisions_are_published_payments_landed_and_bad_events_dead_lettered(
    broker: RedisBroker, streams: Streams, tmp_path: Path
) -> None:
    scorer = consumer(broker, tmp_path, streams, "c1")
    for i in range(5):
        broker.publish(streams.payments, event(payment_id=f"pay_{i}", amount=f"{100 * (i + 1)}.00"))
    broker.publish(streams.payments, b"{not json")
    broker.publish(streams.payments, event(currency="XXX"))
    step = asyncio.run(scorer.step())
    assert (step.received, step.scored, step.dead_lettered, step.landed) == (7, 5, 2, 5)
    decisions = bodies(broker, streams.decisions)
    assert [d["payment_id"] for d in decisions] == [f"pay_{i}" for i in range(5)]
    assert [d["is_flagged"] for d in decisions] == [False, False, False, False, True]  # 542.5 USD
    assert [d["reason"] for d in bodies(broker, streams.dead_letters)] == ["not_json", "unknown_currency"]
    assert landed_payment_ids(tmp_path) == [f"pay_{i}" for i in range(5)]
    assert broker.pending(streams.payments, streams.group) == 0


def test_a_consumer_killed_after_landing_leaves_nothing_twice(
    broker: RedisBroker, streams: Streams, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """c1 lands the batch and dies before publishing and acknowledging; c2 reclaims the messages,
    finds them landed (the footers), lands nothing and publishes each decision once."""
    first = consumer(broker, tmp_path, streams, "c1")
    for i in range(3):
        broker.publish(streams.payments, event(payment_id=f"pay_{i}"))

    def killed(*args, **kwargs):
        raise SystemExit("killed between landing and acknowledging")

    monkeypatch.setattr(first.broker, "publish_and_acknowledge", killed)
    with pytest.raises(SystemExit):
        asyncio.run(first.step())
    monkeypatch.undo()
    assert landed_payment_ids(tmp_path) == ["pay_0", "pay_1", "pay_2"]
    assert bodies(broker, streams.decisions) == [] and broker.pending(streams.payments, "scorers") == 3

    time.sleep(0.1)  # past the reclaim idle time
    step = asyncio.run(consumer(broker, tmp_path, streams, "c2").step())
    assert (step.reclaimed, step.landed, step.already_landed) == (3, 0, 3)
    assert landed_payment_ids(tmp_path) == ["pay_0", "pay_1", "pay_2"]
    assert [d["payment_id"] for d in bodies(broker, streams.decisions)] == ["pay_0", "pay_1", "pay_2"]
    assert broker.pending(streams.payments, "scorers") == 0


def test_a_payment_before_the_features_window_is_landed_not_scored(
    broker: RedisBroker, streams: Streams, tmp_path: Path
) -> None:
    """As the API refuses it: its velocity features would count only part of a window."""
    from datetime import datetime

    scorer = consumer(broker, tmp_path, streams, "c1")
    scorer.holder.current.complete_from = datetime(2025, 3, 1, 12)
    broker.publish(streams.payments, event(payment_id="old", paid_at="2025-03-01T11:00:00Z"))
    broker.publish(streams.payments, event(payment_id="new", paid_at="2025-03-01T13:00:00Z"))
    step = asyncio.run(scorer.step())
    assert (step.scored, step.landed) == (1, 2)
    old, new = bodies(broker, streams.decisions)
    assert old["payment_id"] == "old" and old["score"] is None
    assert "before 2025-03-01T12:00:00Z" in old["not_scored"]
    assert new["payment_id"] == "new" and new["score"] is not None
    assert scorer.holder.current.recorded == ["new"]
