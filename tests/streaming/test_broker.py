"""The broker interface on a real Redis server (loopback, started for the module): a group gets
each message once, a message stays pending until acknowledged, and one left by a dead consumer is
reclaimed by another with its delivery count."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from streaming.redis_broker import RedisBroker
from streaming.redis_server import RedisServerError, redis_server

pytestmark = pytest.mark.streaming


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as started:
        yield started


@pytest.fixture
def broker(url: str) -> Iterator[RedisBroker]:
    client = RedisBroker(url)
    yield client
    client.close()


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
