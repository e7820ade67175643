"""The scoring consumer on a real Redis: each decision published once, malformed events
dead-lettered with their reason, a consumer killed before it publishes leaves nothing half done,
and a swapped champion scores the next payments."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import datetime

import pytest

from serving.hotswap import ModelHolder
from streaming.broker import read_all
from streaming.consumer import Streams
from streaming.redis_broker import RedisBroker
from streaming.scoring_consumer import ScoringConsumer
from tests.serving.fakes import FakeModel
from tests.streaming.events import event

pytestmark = pytest.mark.streaming


@pytest.fixture
def streams() -> Streams:
    tag = uuid.uuid4().hex[:8]
    return Streams(f"payments-{tag}", f"decisions-{tag}", f"dead-{tag}")


def consumer(broker: RedisBroker, streams: Streams, name: str) -> ScoringConsumer:
    holder = ModelHolder()
    holder.current = FakeModel()
    return ScoringConsumer(broker, holder, name, streams, block_ms=0, reclaim_idle_ms=50)


def bodies(broker: RedisBroker, stream: str) -> list[dict]:
    return [json.loads(body) for _, body in read_all(broker, stream)]


def test_decisions_are_published_and_bad_events_dead_lettered(broker: RedisBroker, streams: Streams) -> None:
    scorer = consumer(broker, streams, "c1")
    for i in range(5):
        broker.publish(streams.payments, event(payment_id=f"pay_{i}", amount=f"{100 * (i + 1)}.00"))
    broker.publish(streams.payments, b"{not json")
    broker.publish(streams.payments, event(currency="XXX"))
    step = asyncio.run(scorer.step())
    assert (step.received, step.scored, step.dead_lettered, step.not_scored) == (7, 5, 2, 0)
    assert len(step.published_at) == 7
    decisions = bodies(broker, streams.decisions)
    assert [d["payment_id"] for d in decisions] == [f"pay_{i}" for i in range(5)]
    assert [d["is_flagged"] for d in decisions] == [False, False, False, False, True]  # 542.5 USD
    dead = bodies(broker, streams.dead_letters)
    assert [d["reason"] for d in dead] == ["not_json", "unknown_currency"]
    assert dead[0]["body"] == "{not json" and dead[0]["deliveries"] == 1
    assert broker.pending(streams.payments, streams.scorers) == 0


def test_a_consumer_killed_before_publishing_leaves_each_decision_once(
    broker: RedisBroker, streams: Streams, monkeypatch: pytest.MonkeyPatch
) -> None:
    """c1 scores the batch and dies before publishing and acknowledging; c2 reclaims the messages
    and publishes each decision once."""
    first = consumer(broker, streams, "c1")
    for i in range(3):
        broker.publish(streams.payments, event(payment_id=f"pay_{i}"))

    def killed(*args, **kwargs):
        raise SystemExit("killed between scoring and publishing")

    monkeypatch.setattr(first.broker, "publish_and_acknowledge", killed)
    with pytest.raises(SystemExit):
        asyncio.run(first.step())
    monkeypatch.undo()
    assert bodies(broker, streams.decisions) == [] and broker.pending(streams.payments, streams.scorers) == 3

    time.sleep(0.1)  # past the reclaim idle time
    step = asyncio.run(consumer(broker, streams, "c2").step())
    assert (step.reclaimed, step.scored) == (3, 3)
    assert [d["payment_id"] for d in bodies(broker, streams.decisions)] == ["pay_0", "pay_1", "pay_2"]
    assert broker.pending(streams.payments, streams.scorers) == 0


def test_a_payment_before_the_features_window_is_answered_not_scored(
    broker: RedisBroker, streams: Streams
) -> None:
    """As the API refuses it: its velocity features would count only part of a window."""
    scorer = consumer(broker, streams, "c1")
    scorer.holder.current.complete_from = datetime(2025, 3, 1, 12)
    broker.publish(streams.payments, event(payment_id="old", paid_at="2025-03-01T11:00:00Z"))
    broker.publish(streams.payments, event(payment_id="new", paid_at="2025-03-01T13:00:00Z"))
    step = asyncio.run(scorer.step())
    assert (step.scored, step.not_scored) == (1, 1)
    old, new = bodies(broker, streams.decisions)
    assert old["payment_id"] == "old" and old["score"] is None
    assert "before 2025-03-01T12:00:00Z" in old["not_scored"]
    assert new["payment_id"] == "new" and new["score"] is not None
    assert scorer.holder.current.recorded == ["new"]


def test_a_swapped_champion_scores_the_next_payments(broker: RedisBroker, streams: Streams) -> None:
    """The holder is read at every step: the snapshot watcher's swap reaches the next decisions."""
    scorer = consumer(broker, streams, "c1")
    broker.publish(streams.payments, event(payment_id="before"))
    asyncio.run(scorer.step())
    scorer.holder.current = FakeModel(version=2)
    broker.publish(streams.payments, event(payment_id="after"))
    asyncio.run(scorer.step())
    versions = {d["payment_id"]: d["model_version"] for d in bodies(broker, streams.decisions)}
    assert versions == {"before": 1, "after": 2}


def test_a_message_every_scorer_died_on_is_dead_lettered(broker: RedisBroker, streams: Streams) -> None:
    """A poison message (one that kills each scorer that takes it) would take down every scorer
    after them: past `max_deliveries` it goes to the dead letters unscored."""
    scorer = ScoringConsumer(
        broker, ModelHolder(), "c3", streams, block_ms=0, reclaim_idle_ms=20, max_deliveries=2
    )
    broker.publish(streams.payments, event(payment_id="poison"))
    broker.receive(streams.payments, streams.scorers, "c1", count=1, block_ms=0)  # c1 dies with it
    time.sleep(0.05)
    broker.reclaim(streams.payments, streams.scorers, "c2", idle_ms=20, count=1)  # so does c2
    time.sleep(0.05)
    step = asyncio.run(scorer.step())  # the model is not even loaded: it is never scored
    assert (step.reclaimed, step.dead_lettered, step.scored) == (1, 1, 0)
    (dead,) = bodies(broker, streams.dead_letters)
    assert dead["reason"] == "redelivered_too_often" and dead["deliveries"] == 3
    assert broker.pending(streams.payments, streams.scorers) == 0
