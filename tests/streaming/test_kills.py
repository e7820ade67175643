"""The lander as a real process, killed with SIGKILL: at each write point (mid-write, and after
the rename before the acknowledgement), and at random moments under load. After each kill a
lander of the same name is started again; in the end every published payment has landed exactly
once and nothing is left pending."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from streaming.consumer import Streams
from streaming.landing import folder
from streaming.redis_broker import RedisBroker
from tests.reliability.faults import crash_at
from tests.streaming.events import event

pytestmark = pytest.mark.streaming

KILLED = -signal.SIGKILL
STREAMS = Streams()  # the service's own names
LANDER = ("--max-rows", "100", "--max-wait-s", "0.2", "--reclaim-idle-ms", "500")


@pytest.fixture
def clean(broker: RedisBroker) -> Iterator[RedisBroker]:
    """The service's streams, empty (each worker has its own Redis; its tests run one by one)."""
    for stream in (STREAMS.payments, STREAMS.decisions, STREAMS.dead_letters):
        broker.delete(stream)
    broker.create_group(STREAMS.payments, STREAMS.landers)  # as the lander does when it starts
    yield broker


def start_lander(url: str, landing: Path, environ: dict[str, str] | None = None) -> subprocess.Popen:
    argv = [sys.executable, "-m", "streaming.service", "lander", "--url", url, "--landing-dir", str(landing)]
    return subprocess.Popen(
        [*argv, *LANDER], env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def stop(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    return output


def publish(broker: RedisBroker, count: int, start: int = 0) -> list[str]:
    ids = [f"pay_{i:05d}" for i in range(start, start + count)]
    for payment_id in ids:
        broker.publish(STREAMS.payments, event(payment_id=payment_id))
    return ids


def landed(landing: Path) -> Counter[str]:
    if not list(folder(landing).glob("date=*/*.parquet")):
        return Counter()
    with duckdb.connect() as con:
        rows = con.sql(f"select payment_id from read_parquet('{folder(landing)}/*/*.parquet')").fetchall()
    return Counter(row[0] for row in rows)


def wait_until_landed(broker: RedisBroker, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while broker.lag(STREAMS.payments, STREAMS.landers) or broker.pending(STREAMS.payments, STREAMS.landers):
        assert process.poll() is None, process.communicate()[0]
        assert time.monotonic() < deadline, "the lander did not land everything in time"
        time.sleep(0.1)


@pytest.mark.parametrize(
    ("point", "committed_before_restart"),
    [("landing:staged", 0), ("lander:written", 100)],
)
def test_a_lander_killed_at_a_write_point_lands_each_payment_once_after_a_restart(
    url: str, clean: RedisBroker, tmp_path: Path, point: str, committed_before_restart: int
) -> None:
    ids = publish(clean, 300)
    killed = start_lander(url, tmp_path, crash_at(point))
    output, _ = killed.communicate(timeout=60)
    assert killed.returncode == KILLED, output
    staged = list(folder(tmp_path).glob("date=*/.part-stream-*.tmp"))
    assert len(staged) == (1 if point == "landing:staged" else 0)
    assert sum(landed(tmp_path).values()) == committed_before_restart
    assert clean.pending(STREAMS.payments, STREAMS.landers) == 100

    again = start_lander(url, tmp_path)
    wait_until_landed(clean, again)
    output = stop(again)
    assert landed(tmp_path) == Counter(ids), output
    assert not any(path.exists() for path in staged)  # removed when the lander started
    assert f"already_landed {committed_before_restart}" in output.splitlines()[-1]


def test_a_lander_killed_at_random_moments_under_load_lands_each_payment_once(
    url: str, clean: RedisBroker, tmp_path: Path
) -> None:
    rng = random.Random(18)
    published: list[str] = []
    for _ in range(4):
        lander = start_lander(url, tmp_path)
        published += publish(clean, 250, start=len(published))
        time.sleep(rng.uniform(0.05, 0.6))
        lander.kill()
        lander.wait(timeout=30)
    last = start_lander(url, tmp_path)
    wait_until_landed(clean, last)
    output = stop(last)
    assert landed(tmp_path) == Counter(published), output
    assert not list(folder(tmp_path).glob("date=*/.*.tmp"))
