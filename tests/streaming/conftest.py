"""One Redis server per test worker (loopback, its files in a temporary folder), and a client on
it per test; each test uses streams of its own names."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from streaming.redis_broker import RedisBroker
from streaming.redis_server import redis_server


@pytest.fixture(scope="session")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as started:
        yield started


@pytest.fixture
def broker(url: str) -> Iterator[RedisBroker]:
    client = RedisBroker(url)
    yield client
    client.close()
