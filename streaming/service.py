"""`python -m streaming.service --url redis://127.0.0.1:<port>/0`: the stream consumer as a process.

It serves what the API serves: the champion and the online feature state of the published snapshot
(`serving.scorer.load_scorer`, the API's settings: SERVE_SNAPSHOT and the rest), loaded in the
background and hot-swapped when the snapshot changes (`serving.hotswap.SnapshotWatcher`). Once the
first model is in, it prints `ready` and runs consumer steps (streaming/consumer.py) until SIGTERM or
SIGINT, printing the totals every few seconds. Payments land under LANDING_DIR (or --landing-dir).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import signal
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

from ml.settings import settings
from serving.hotswap import ModelHolder, ServingModel, SnapshotWatcher
from serving.settings import ServingSettings
from streaming.consumer import StreamConsumer, Streams
from streaming.redis_broker import RedisBroker

REPORT_SECONDS = 5.0


def loaded(model: ServingModel) -> None:
    # as the API does (serving/app.py): the feature state's objects out of the garbage collector's walks
    gc.freeze()
    info = model.info
    print(f"ready: scoring with {info.name} version {info.version} ({info.engine})", flush=True)


async def consume(consumer: StreamConsumer, watcher: SnapshotWatcher, stop: asyncio.Event) -> Counter[str]:
    watching = asyncio.create_task(watcher.run())
    totals: Counter[str] = Counter()
    reported = time.monotonic()
    try:
        while not stop.is_set():
            if consumer.holder.current is None:
                await asyncio.sleep(0.1)  # the first load is under way
                continue
            totals.update(asdict(await consumer.step()))
            if time.monotonic() - reported >= REPORT_SECONDS:
                print(summary(totals), flush=True)
                reported = time.monotonic()
    finally:
        watching.cancel()
        await asyncio.gather(watching, return_exceptions=True)
    return totals


def summary(totals: Counter[str]) -> str:
    return (
        f"scored {totals['scored']:,}, landed {totals['landed']:,} (already landed "
        f"{totals['already_landed']:,}), dead-lettered {totals['dead_lettered']:,}, reclaimed "
        f"{totals['reclaimed']:,}"
    )


async def run(args: argparse.Namespace) -> Counter[str]:
    from serving.scorer import load_scorer  # LightGBM and the feature store: only for the real model

    serving_settings = ServingSettings.from_env()
    holder = ModelHolder(serving_settings.journal_max_payments)
    broker = RedisBroker(args.url)
    landing_dir = args.landing_dir or settings().landing_dir
    consumer = StreamConsumer(broker, holder, landing_dir, args.name, Streams())
    watcher = SnapshotWatcher(
        serving_settings.snapshot,
        holder,
        functools.partial(load_scorer, serving_settings),
        serving_settings.poll_seconds,
        on_loaded=loaded,
        on_failed=lambda exc: print(f"could not load the snapshot: {exc}", flush=True),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stop.set)
    try:
        return await consume(consumer, watcher, stop)
    finally:
        broker.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m streaming.service", description=__doc__)
    parser.add_argument("--url", required=True, help="the broker, redis://127.0.0.1:<port>/0")
    parser.add_argument("--name", default="consumer-1", help="this consumer's name in the group")
    parser.add_argument("--landing-dir", type=Path, default=None, help="default: LANDING_DIR")
    totals = asyncio.run(run(parser.parse_args(argv)))
    print(f"stopped: {summary(totals)}", flush=True)


if __name__ == "__main__":
    main()
