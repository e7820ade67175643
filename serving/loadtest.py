"""`python -m serving.loadtest --rate 500 --seconds 20`: an open-loop load test of a running API,
on loopback only.

Requests are sent on a fixed schedule (request i at start + i/rate) whatever the server's pace, and
each latency is measured from its scheduled time (or its send, if that was earlier) to the last
byte of its response, so a stalled server shows up as latency rather than as a lower rate (no
coordinated omission). Plain asyncio sockets with keep-alive, on uvloop when installed, keep the
generator's own CPU small: it shares the machine with the server. Payments are the snapshot's
latest ones under new ids, timed after its newest payment, so their features see complete windows
and each one is new to the feature state.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import ipaddress
import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from serving.settings import ServingSettings
from serving.snapshot import latest_payments

SCORE_PATH = "/v1/models/payment_fraud/score"


@dataclass(frozen=True)
class Outcome:
    latency_s: float
    status: int
    send_lag_s: float  # from the scheduled time to the write: the generator's own lateness (< 0: early)


def new_payments(snapshot: Path, count: int, spacing: timedelta, prefix: str) -> list[dict]:
    """`count` payments the warehouse never saw: the snapshot's latest 500 in turn, under new ids
    (`prefix` + number) and timed `spacing` apart after its newest payment, so their features see
    complete windows and each is new to the feature state. Request bodies, as the API reads them."""
    recent = latest_payments(snapshot, 500)
    if not recent:
        raise SystemExit(f"{snapshot} has no payments to replay")
    newest = max(payment.paid_at for payment in recent)
    return [
        {
            "payment_id": f"{prefix}{i:012d}",
            "paid_at": (newest + spacing * (i + 1)).isoformat() + "Z",
            "customer_id": base.customer_id,
            "card_fingerprint": base.card_fingerprint,
            "device_id": base.device_id,
            "amount_usd": base.amount_usd,
            "channel": base.channel,
            "merchant_category_code": base.merchant_category_code,
            "ip_country": base.ip_country,
            "is_authorized": base.is_authorized,
        }
        for i, base in ((i, recent[i % len(recent)]) for i in range(count))
    ]


def request_bodies(snapshot: Path, count: int, rate: float) -> list[bytes]:
    payments = new_payments(snapshot, count, timedelta(seconds=1 / rate), "pay_load_")
    return [json.dumps(payment).encode() for payment in payments]


def http_request(host: str, body: bytes, token: str | None = None) -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    head = (
        f"POST {SCORE_PATH} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n{auth}"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = next(int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:"))
    await reader.readexactly(length)
    return status


Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class Connections:
    """At most `size` keep-alive connections, opened on demand; a request waits for a free one
    (its latency still counts from its scheduled time)."""

    def __init__(self, host: str, port: int, size: int) -> None:
        self.host, self.port = host, port
        self.idle: asyncio.Queue[Connection] = asyncio.Queue()
        self.opened, self.size = 0, size

    async def take(self) -> Connection:
        if self.idle.empty() and self.opened < self.size:
            self.opened += 1
            reader, writer = await asyncio.open_connection(self.host, self.port)
            writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return reader, writer
        return await self.idle.get()

    def give_back(self, connection: Connection) -> None:
        self.idle.put_nowait(connection)

    def lost(self) -> None:
        self.opened -= 1

    async def close(self) -> None:
        while not self.idle.empty():
            _, writer = self.idle.get_nowait()
            writer.close()
            await writer.wait_closed()


async def send_one(pool: Connections, request: bytes, scheduled: float) -> Outcome:
    reader, writer = await pool.take()
    sent = time.perf_counter()
    # from the schedule, or from the send if the loop's timer woke early (uvloop's timers have 1 ms
    # resolution): never shorter than the request really took
    start = min(scheduled, sent)
    try:
        writer.write(request)
        status = await read_response(reader)
    except (OSError, asyncio.IncompleteReadError):
        writer.close()
        pool.lost()
        return Outcome(time.perf_counter() - start, 0, sent - scheduled)
    pool.give_back((reader, writer))
    return Outcome(time.perf_counter() - start, status, sent - scheduled)


async def run(host: str, port: int, requests: list[bytes], rate: float, connections: int) -> list[Outcome]:
    pool = Connections(host, port, connections)
    start = time.perf_counter() + 0.1
    tasks = []
    for i, request in enumerate(requests):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send_one(pool, request, scheduled)))
    # wait for the requests still in flight only: gathering every task at once adds a callback to
    # each of thousands in one turn of the loop (10 ms here) while the last responses wait unread
    in_flight = [task for task in tasks if not task.done()]
    if in_flight:
        await asyncio.wait(in_flight)
    await pool.close()
    return [task.result() for task in tasks]


@dataclass(frozen=True)
class Run:
    outcomes: list[Outcome]
    elapsed_s: float


def without_collections(send: Callable[[], list[Outcome]]) -> Run:
    """`send()` with Python's cyclic garbage collector paused. The generator holds every request and
    outcome of the run: a full collection of them took 70 ms here, mid-run, during which nothing was
    sent or read, and each request waiting meanwhile counted those 70 ms as the server's latency
    (they were this tool's p99.9 and max). A bounded run needs no collection; reference counting
    still frees what it can."""
    gc.collect()
    gc.freeze()  # the request bodies, built above, are never walked again
    gc.disable()
    try:
        started = time.perf_counter()
        outcomes = send()
        return Run(outcomes, time.perf_counter() - started)
    finally:
        gc.enable()
        gc.unfreeze()


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when installed (uvicorn's `standard` extra brings it, and the API runs on
    it): reading a response costs the generator less, so less of its own time is counted as the
    server's latency (p50 0.9 against 1.5 ms here). None: asyncio's default loop."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def require_loopback(host: str) -> None:
    addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    if not all(ipaddress.ip_address(address).is_loopback for address in addresses):
        raise SystemExit(f"{host} is not a loopback address: this load test runs against this machine only")


def figures(outcomes: list[Outcome], rate: float, seconds: float, elapsed_s: float) -> dict:
    """Latency percentiles (ms, from each request's scheduled time), failures, the throughput
    achieved (responses per second over the measured part of the run) and how late the generator
    itself sent (p99 and max, ms: when they approach the latencies, the generator is the bottleneck)."""
    latencies_ms = np.array([o.latency_s for o in outcomes]) * 1000
    p50, p90, p99, p999 = (float(x) for x in np.percentile(latencies_ms, [50, 90, 99, 99.9]))
    lags_ms = np.array([o.send_lag_s for o in outcomes]) * 1000
    return {
        "rate_per_s": rate,
        "seconds": seconds,
        "requests": len(outcomes),
        "not_200": sum(o.status != 200 for o in outcomes),
        "throughput_per_s": len(outcomes) / elapsed_s if elapsed_s > 0 else None,
        "p50_ms": p50,
        "p90_ms": p90,
        "p99_ms": p99,
        "p999_ms": p999,
        "max_ms": float(latencies_ms.max()),
        "send_lag_p99_ms": float(np.percentile(lags_ms, 99)),
        "send_lag_max_ms": float(lags_ms.max()),
    }


def report(result: dict) -> str:
    return (
        f"{result['requests']} requests at {result['rate_per_s']:g}/s over {result['seconds']:g} s "
        f"({result['throughput_per_s']:.1f} responses/s): {result['not_200']} not 200; latency ms "
        f"p50 {result['p50_ms']:.2f}, p90 {result['p90_ms']:.2f}, p99 {result['p99_ms']:.2f}, "
        f"p99.9 {result['p999_ms']:.2f}, max {result['max_ms']:.2f}; sent late by p99 "
        f"{result['send_lag_p99_ms']:.2f}, max {result['send_lag_max_ms']:.2f}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m serving.loadtest", description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--rate", type=float, default=500.0, help="requests per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup-seconds", type=float, default=3.0, help="sent first, not reported")
    parser.add_argument("--connections", type=int, default=64, help="keep-alive connections at most")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--token",
        default=os.environ.get("SERVE_TOKEN"),
        help="bearer token when the API has tokens (SERVE_TOKEN)",
    )
    args = parser.parse_args(argv)
    parts = urlsplit(args.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    require_loopback(host)
    warmup = int(args.rate * args.warmup_seconds)
    bodies = request_bodies(
        ServingSettings.from_env().snapshot, warmup + int(args.rate * args.seconds), args.rate
    )
    requests = [http_request(host, body, args.token) for body in bodies]
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        done = without_collections(lambda: runner.run(run(host, port, requests, args.rate, args.connections)))
    measured_s = done.elapsed_s - args.warmup_seconds
    result = figures(done.outcomes[warmup:], args.rate, args.seconds, measured_s)
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
