"""The broker interface on a real Redis server (loopback, started for the module): a group gets
each message once, a message stays pending until acknowledged, and one left by a dead consumer is
reclaimed by another with its delivery count."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest
import redis

from streaming.broker import read_all
from streaming.redis_broker import RedisBroker
from streaming.redis_server import RedisServerError, redis_server

pytestmark = pytest.mark.streaming


@pytest.fixture
def stream(broker: RedisBroker) -> str:
    name = f"payments-{uuid.uuid4().hex[:8]}"
    broker.create_group(name, "scorers")
    broker.create_group(name, "scorers")  # a second time: nothing happens
    return name


def test_a_group_gets_each_message_once_and_holds_it_until_acknowledged(broker, stream) -> None:
    for i in range(5):
        broker.publish(stream, f"m{i}".encode())
    assert broker.lag(stream, "scorers") == 5
    first = broker.receive(stream, "scorers", "c1", count=3, block_ms=0)
    second = broker.receive(stream, "scorers", "c2", count=10, block_ms=0)
    assert [d.body for d in first] == [b"m0", b"m1", b"m2"]
    assert [d.body for d in second] == [b"m3", b"m4"]
    assert {d.deliveries for d in first + second} == {1}
    assert broker.receive(stream, "scorers", "c1", count=10, block_ms=0) == []
    assert (broker.lag(stream, "scorers"), broker.pending(stream, "scorers")) == (0, 5)
    broker.acknowledge(stream, "scorers", [d.id for d in first + second])
    assert broker.pending(stream, "scorers") == 0


def test_a_message_left_pending_by_a_dead_consumer_is_reclaimed(broker, stream) -> None:
    broker.publish(stream, b"done")
    broker.publish(stream, b"in flight")
    done, in_flight = broker.receive(stream, "scorers", "c1", count=10, block_ms=0)
    broker.acknowledge(stream, "scorers", [done.id])  # then c1 dies
    assert broker.reclaim(stream, "scorers", "c2", idle_ms=60_000, count=10) == []  # not idle yet
    time.sleep(0.05)
    (claimed,) = broker.reclaim(stream, "scorers", "c2", idle_ms=20, count=10)
    assert (claimed.id, claimed.body, claimed.deliveries) == (in_flight.id, b"in flight", 2)
    broker.acknowledge(stream, "scorers", [claimed.id])
    assert broker.pending(stream, "scorers") == 0


def test_results_are_published_and_inputs_acknowledged_together(broker, stream) -> None:
    broker.publish(stream, b"p1")
    broker.publish(stream, b"p2")
    received = broker.receive(stream, "scorers", "c1", count=10, block_ms=0)
    decisions = f"{stream}-decisions"
    ids = broker.publish_and_acknowledge(
        decisions, [b"d1", b"d2"], stream, "scorers", "c1", [d.id for d in received]
    )
    assert len(ids) == 2 and broker.pending(stream, "scorers") == 0
    broker.create_group(decisions, "readers")
    assert [d.body for d in broker.receive(decisions, "readers", "r", count=10, block_ms=0)] == [
        b"d1",
        b"d2",
    ]


def test_a_step_that_cannot_publish_acknowledges_nothing(broker, stream) -> None:
    """All or nothing: with the output key holding a string, the group missing, or a message no
    longer this consumer's, the step fails before any write: the messages stay pending and
    nothing is published."""
    broker.publish(stream, b"p1")
    (received,) = broker.receive(stream, "scorers", "c1", count=10, block_ms=0)
    decisions, wrong = f"{stream}-decisions", f"{stream}-not-a-stream"
    broker._redis.set(wrong, "x")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        broker.publish_and_acknowledge(wrong, [b"d1"], stream, "scorers", "c1", [received.id])
    with pytest.raises(redis.ResponseError, match="NOGROUP"):
        broker.publish_and_acknowledge(decisions, [b"d1"], stream, "nobody", "c1", [received.id])
    time.sleep(0.05)
    (reclaimed,) = broker.reclaim(stream, "scorers", "c2", idle_ms=20, count=10)  # c1 was too slow
    with pytest.raises(redis.ResponseError, match="NOTPENDING"):
        broker.publish_and_acknowledge(decisions, [b"d1"], stream, "scorers", "c1", [received.id])
    assert broker.pending(stream, "scorers") == 1 and broker.length(decisions) == 0
    broker.publish_and_acknowledge(decisions, [b"d1"], stream, "scorers", "c2", [reclaimed.id])
    assert broker.pending(stream, "scorers") == 0 and broker.length(decisions) == 1


def test_many_acknowledgements_in_one_step(broker, stream) -> None:
    for i in range(1_200):  # more than two XACK chunks
        broker.publish(stream, b"p%d" % i)
    received = broker.receive(stream, "scorers", "c1", count=2_000, block_ms=0)
    ids = [d.id for d in received]
    broker.publish_and_acknowledge(f"{stream}-out", [b"d"], stream, "scorers", "c1", ids)
    assert broker.pending(stream, "scorers") == 0


def test_a_plain_acknowledgement_of_many_in_chunks(broker, stream) -> None:
    for i in range(1_200):
        broker.publish(stream, b"p%d" % i)
    received = broker.receive(stream, "scorers", "c1", count=2_000, block_ms=0)
    broker.acknowledge(stream, "scorers", [d.id for d in received[:1_100]])
    assert broker.pending(stream, "scorers") == 100


def test_owned_is_what_is_still_pending_for_the_consumer(broker, stream) -> None:
    for body in (b"a", b"b", b"c"):
        broker.publish(stream, body)
    a, b, c = broker.receive(stream, "scorers", "c1", count=10, block_ms=0)
    broker.acknowledge(stream, "scorers", [a.id])
    time.sleep(0.05)
    broker.reclaim(stream, "scorers", "c2", idle_ms=20, count=1)  # b: now c2's
    assert broker.owned(stream, "scorers", "c1", [a.id, b.id, c.id]) == {c.id}
    assert broker.owned(stream, "scorers", "c2", [a.id, b.id, c.id]) == {b.id}


def test_a_stream_is_read_outside_any_group(broker, stream) -> None:
    ids = [broker.publish(stream, b"m%d" % i) for i in range(5)]
    assert broker.read(stream) == [(i, b"m%d" % n) for n, i in enumerate(ids)]
    assert [i for i, _ in broker.read(stream, after=ids[1], count=2)] == ids[2:4]
    assert read_all(broker, stream, page=2) == broker.read(stream)
    assert broker.length(stream) == 5 and broker.pending(stream, "scorers") == 0
    broker.delete(stream)
    assert broker.length(stream) == 0 and broker.read(stream) == []


def test_receive_waits_for_the_next_message(broker, stream) -> None:
    later = threading.Timer(0.2, broker.publish, args=(stream, b"late"))
    started = time.monotonic()
    later.start()
    (delivery,) = broker.receive(stream, "scorers", "c1", count=1, block_ms=5_000)
    assert delivery.body == b"late" and 0.1 < time.monotonic() - started < 4


def test_a_missing_redis_server_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("streaming.redis_server.shutil.which", lambda _: None)
    with pytest.raises(RedisServerError, match="apt-get install redis-server"), redis_server(tmp_path):
        pass


def test_only_what_every_group_acknowledged_is_trimmed(broker, stream) -> None:
    broker.create_group(stream, "landers")
    ids = [broker.publish(stream, b"m%d" % i) for i in range(1_000)]
    for group in ("scorers", "landers"):
        broker.receive(stream, group, "c1", count=1_000, block_ms=0)
    broker.acknowledge(stream, "scorers", ids)
    assert broker.trim_acknowledged(stream) == 0  # the landers acknowledged nothing
    broker.acknowledge(stream, "landers", ids[:550])
    trimmed = broker.trim_acknowledged(stream)
    assert 0 < trimmed <= 550 and broker.length(stream) == 1_000 - trimmed
    assert [i for i, _ in read_all(broker, stream)] == ids[trimmed:]  # the oldest first, none needed
    broker.acknowledge(stream, "landers", ids[550:])
    assert broker.trim_acknowledged(stream) > 0 and broker.length(stream) < 1_000 - trimmed
    assert broker.trim_acknowledged(f"{stream}-absent") == 0
