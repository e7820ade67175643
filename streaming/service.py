"""The stream consumers as processes, until SIGTERM or SIGINT:

    python -m streaming.service scorer --url redis://127.0.0.1:<port>/0 [--name scorer-1]
    python -m streaming.service lander --url redis://127.0.0.1:<port>/0 [--name lander-1]

The scorer serves what the API serves: the champion and the online feature state of the published
snapshot (`serving.scorer.load_scorer`, the API's settings: ANALYTICS_DB, MODELS_DIR and the rest),
loaded in the background and hot-swapped when the snapshot changes (`serving.hotswap.SnapshotWatcher`).
It prints `ready` once the first model is in, then scores (streaming/scoring_consumer.py).

The lander prints `ready` at once and lands the payments under LANDING_DIR (or --landing-dir) in
micro-batches (streaming/landing_consumer.py); at a stop it lands what it holds before it exits.

Each prints its totals every few seconds and, with --metrics-port, serves Prometheus metrics
(streaming/metrics.py) on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gc
import signal
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ml.settings import settings
from streaming.consumer import Streams
from streaming.landing_consumer import LandingConsumer
from streaming.metrics import StreamMetrics
from streaming.redis_broker import RedisBroker

if TYPE_CHECKING:
    from serving.hotswap import ServingModel

REPORT_SECONDS = 5.0
FREEZE_SECONDS = 5.0
FIRST_BACKOFF_S, MAX_BACKOFF_S = 0.5, 30.0


def summary(totals: Counter[str]) -> str:
    return ", ".join(f"{outcome} {number:,}" for outcome, number in totals.items())


async def loop(
    step: Callable[[], Awaitable[Any]], stop: asyncio.Event, metrics: StreamMetrics
) -> Counter[str]:
    """Run steps until `stop`, counting their outcomes. A step that fails (the broker unreachable, a
    disk full) is retried after a growing pause: its messages stay pending, and are taken again."""
    totals: Counter[str] = Counter()
    reported = time.monotonic()
    failures = 0
    while not stop.is_set():
        try:
            result = asdict(await step())
        except Exception as exc:
            failures += 1
            totals["step_failures"] += 1
            metrics.count({"step_failures": 1})
            pause = min(MAX_BACKOFF_S, FIRST_BACKOFF_S * 2 ** (failures - 1))
            print(f"step failed ({failures} in a row), again in {pause:g} s: {exc!r}", flush=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)
            continue
        failures = 0
        metrics.answered(result.pop("published_at", ()))
        metrics.count(result)
        totals.update(result)
        if time.monotonic() - reported >= REPORT_SECONDS:
            print(summary(totals), flush=True)
            reported = time.monotonic()
    return totals


def freezing(step: Callable[[], Awaitable[Any]], every_s: float) -> Callable[[], Awaitable[Any]]:
    """`step`, then every `every_s` the objects that survived into the oldest generation frozen.

    The scorer records each payment in the online feature state: 2,000 a second are 120,000 new
    long-lived objects a minute, and a full collection of the cyclic garbage collector walks them
    all, stalling the scorer (gen2 passes of 16, 60 and 112 ms 8, 16 and 21 s into a run at 2,000/s,
    seen with a gc.callbacks hook). Frozen, later collections skip them. Reference counting still
    frees them when the state prunes them; only reference cycles among them would never be freed,
    and the state holds none (tuples, strings, numbers). The young generations are collected first,
    so a short-lived cycle is not frozen."""
    due = time.monotonic() + every_s

    async def step_then_freeze() -> Any:
        nonlocal due
        result = await step()
        if time.monotonic() >= due:
            gc.collect(1)
            gc.freeze()
            due = time.monotonic() + every_s
        return result

    return step_then_freeze


async def first_event(*events: asyncio.Event) -> None:
    """Until one of `events` is set."""
    waits = [asyncio.create_task(event.wait()) for event in events]
    _, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for wait in pending:
        wait.cancel()


def loaded(model: ServingModel) -> None:
    # as the API does (serving/app.py): the feature state's objects out of the garbage collector's walks
    gc.freeze()
    info = model.info
    print(f"ready: scoring with {info.name} version {info.version} ({info.engine})", flush=True)


async def score(args: argparse.Namespace, broker: RedisBroker, stop: asyncio.Event) -> Counter[str]:
    # the API's loader, LightGBM and FastAPI (1.2 s of imports): the scorer's, not the lander's
    from serving.hotswap import ModelHolder, SnapshotWatcher
    from serving.scorer import load_scorer
    from serving.settings import ServingSettings
    from streaming.scoring_consumer import ScoringConsumer

    streams = Streams()
    serving_settings = ServingSettings.from_env()
    holder = ModelHolder(serving_settings.journal_max_payments)
    consumer = ScoringConsumer(broker, holder, args.name, streams)
    metrics = serve_metrics(args, broker, streams.scorers)
    watcher = SnapshotWatcher(
        serving_settings.snapshot,
        holder,
        functools.partial(load_scorer, serving_settings),
        serving_settings.poll_seconds,
        on_loaded=lambda model: (loaded(model), first_load.set()),
        on_failed=lambda exc: print(f"could not load the snapshot: {exc}", flush=True),
    )
    first_load = asyncio.Event()
    watching = asyncio.create_task(watcher.run())
    try:
        # the first load is under way; the first step follows it at once (a 0.1 s poll here held the
        # first payments after `ready` for up to 100 ms)
        await first_event(first_load, stop)
        return await loop(freezing(consumer.step, FREEZE_SECONDS), stop, metrics)
    finally:
        watching.cancel()
        await asyncio.gather(watching, return_exceptions=True)


async def land(args: argparse.Namespace, broker: RedisBroker, stop: asyncio.Event) -> Counter[str]:
    streams = Streams()
    consumer = LandingConsumer(
        broker,
        args.landing_dir or settings().landing_dir,
        args.name,
        streams,
        max_rows=args.max_rows,
        max_wait_s=args.max_wait_s,
        reclaim_idle_ms=args.reclaim_idle_ms,
    )
    metrics = serve_metrics(args, broker, streams.landers)
    print(f"ready: landing under {consumer.landing_dir}", flush=True)
    totals = await loop(consumer.step, stop, metrics)
    last = asdict(await consumer.step(flush=True))  # what it holds, before it exits
    metrics.count(last)
    totals.update(last)
    return totals


def serve_metrics(args: argparse.Namespace, broker: RedisBroker, group: str) -> StreamMetrics:
    metrics = StreamMetrics(broker, Streams().payments, group)
    if args.metrics_port is not None:
        port = metrics.serve(args.metrics_port)
        print(f"metrics on http://127.0.0.1:{port}/metrics", flush=True)
    return metrics


async def run(args: argparse.Namespace) -> Counter[str]:
    stop = asyncio.Event()
    running = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        running.add_signal_handler(number, stop.set)
    broker = RedisBroker(args.url)
    try:
        return await (score if args.role == "scorer" else land)(args, broker, stop)
    finally:
        broker.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m streaming.service", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("role", choices=("scorer", "lander"))
    parser.add_argument("--url", required=True, help="the broker, redis://127.0.0.1:<port>/0")
    parser.add_argument("--name", help="this consumer's name in its group (default: <role>-1)")
    parser.add_argument("--metrics-port", type=int, help="serve Prometheus metrics here (0: any free port)")
    parser.add_argument("--landing-dir", type=Path, help="lander: where payments land (default: LANDING_DIR)")
    parser.add_argument(
        "--max-rows", type=int, default=50_000, help="lander: payments per micro-batch, at most"
    )
    parser.add_argument(
        "--max-wait-s", type=float, default=60.0, help="lander: the longest a payment waits to land"
    )
    parser.add_argument(
        "--reclaim-idle-ms", type=int, default=180_000, help="lander: reclaim a dead lander's payments after"
    )
    args = parser.parse_args(argv)
    args.name = args.name or f"{args.role}-1"
    totals = asyncio.run(run(args))
    print(f"stopped: {summary(totals)}", flush=True)


if __name__ == "__main__":
    main()
