"""The load generator: open loop (latency counted from each request's scheduled time) and every
response accounted for, in order, against a tiny local HTTP server."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from serving.loadtest import event_loop_factory, figures, http_request, run

RATE = 400.0
LOOP = event_loop_factory()  # as `python -m serving.loadtest` runs it


@contextmanager
def server(stall_after: int | None, stall_s: float) -> Iterator[tuple[int, list[float]]]:
    """An HTTP/1.1 keep-alive server, on its own thread and event loop, answering 200 at once,
    except that request number `stall_after` blocks the server's loop for `stall_s` first. Yields
    its port and the arrival times of the requests."""
    arrivals: list[float] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                break
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            await reader.readexactly(length)
            arrivals.append(time.perf_counter())
            if stall_after is not None and len(arrivals) == stall_after:
                time.sleep(stall_s)  # blocks the loop on purpose
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
            await writer.drain()
        writer.close()

    loop = asyncio.new_event_loop()
    listening = loop.run_until_complete(asyncio.start_server(handle, "127.0.0.1", 0))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield listening.sockets[0].getsockname()[1], arrivals
    finally:
        # the generator closed its connections: let the handlers see it before the loop stops
        asyncio.run_coroutine_threadsafe(asyncio.sleep(0.05), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        listening.close()
        loop.close()


def load(count: int, stall_after: int | None = None, stall_s: float = 0.0) -> tuple[list, list[float]]:
    requests = [http_request("127.0.0.1", b'{"n": %d}' % i) for i in range(count)]
    with server(stall_after, stall_s) as (port, arrivals), asyncio.Runner(loop_factory=LOOP) as runner:
        # connections enough for every request of a stall: the generator never waits for one
        outcomes = runner.run(run("127.0.0.1", port, requests, RATE, connections=128))
    return outcomes, arrivals


def test_every_request_gets_its_outcome_in_schedule_order() -> None:
    outcomes, arrivals = load(200)
    assert len(outcomes) == len(arrivals) == 200
    assert all(outcome.status == 200 for outcome in outcomes)
    # sent on schedule: 200 requests at 400/s take half a second, not less
    assert arrivals[-1] - arrivals[0] == pytest.approx(199 / RATE, abs=0.05)
    result = figures(outcomes, RATE, 0.5, 0.5)
    assert result["requests"] == 200 and result["not_200"] == 0


def test_a_stalled_server_shows_as_latency_of_the_requests_scheduled_meanwhile() -> None:
    """Coordinated omission: a closed-loop client would send nothing during a 200 ms stall and
    report one slow request. Here every request scheduled during the stall counts its wait."""
    stall_s = 0.2
    outcomes, _ = load(300, stall_after=100, stall_s=stall_s)
    assert all(outcome.status == 200 for outcome in outcomes)
    slow = [o for o in outcomes if o.latency_s > stall_s / 2]
    # requests scheduled in the first half of the stall waited more than half of it: ~40 of them
    assert len(slow) >= int(stall_s / 2 * RATE) - 5
    assert max(o.latency_s for o in outcomes) >= stall_s * 0.9
    # and the generator kept its schedule meanwhile: the latency is the server's
    result = figures(outcomes, RATE, 0.75, 0.75)
    assert result["send_lag_max_ms"] < stall_s * 1000 / 4
