"""The stream's consumer processes run from a program (`make stream-demo`, `make bench-streaming`):
started, awaited until they serve, stopped, and the broker watched until they have caught up."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ml import loopback
from streaming.broker import Broker
from streaming.consumer import Streams


@dataclass(frozen=True)
class Consumer:
    role: str  # scorer or lander
    process: subprocess.Popen
    ready: threading.Event  # set once it prints `ready`


def start_consumer(role: str, url: str, *args: str, on_line: Callable[[str], None]) -> Consumer:
    """`python -m streaming.service <role> --url <url> <args>`; each line it prints goes to `on_line`."""
    argv = [sys.executable, "-m", "streaming.service", role, "--url", url, *args]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ready = threading.Event()

    def follow() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            on_line(line)
            if line.startswith("ready"):
                ready.set()

    threading.Thread(target=follow, daemon=True).start()
    return Consumer(role, process, ready)


def wait_ready(consumers: Sequence[Consumer], timeout_s: float) -> None:
    """Until each serves; SystemExit if one exits or the time runs out first."""
    deadline = time.monotonic() + timeout_s
    for consumer in consumers:
        while not consumer.ready.wait(0.2):
            if consumer.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the {consumer.role} did not get ready (exit {consumer.process.poll()})")


def stop(consumers: Sequence[Consumer], timeout_s: float = 60.0) -> None:
    """SIGTERM: a scorer ends after its step, a lander after it lands what it holds."""
    loopback.stop([consumer.process for consumer in consumers], timeout_s)


def caught_up(broker: Broker, streams: Streams, groups: Sequence[str], published: int) -> bool:
    """Each of `groups` has taken and acknowledged every message, and if the scorers are among
    them, the `published` messages all have a decision or a dead letter."""
    answered = broker.length(streams.decisions) + broker.length(streams.dead_letters)
    return (streams.scorers not in groups or answered >= published) and all(
        broker.lag(streams.payments, group) == 0 and broker.pending(streams.payments, group) == 0
        for group in groups
    )


def wait_caught_up(
    broker: Broker, streams: Streams, groups: Sequence[str], published: int, timeout_s: float, every_s: float
) -> float:
    """Seconds until `caught_up`; SystemExit after `timeout_s`."""
    start = time.monotonic()
    while not caught_up(broker, streams, groups, published):
        if time.monotonic() - start > timeout_s:
            raise SystemExit(f"{', '.join(groups)} did not catch up within {timeout_s:g} s")
        time.sleep(every_s)
    return time.monotonic() - start
