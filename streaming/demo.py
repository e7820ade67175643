"""`make stream-demo` (after `make run`): payments on a stream, scored as they come, landed in
micro-batches.

Starts Redis on loopback and the two consumers (`python -m streaming.service scorer` and
`... lander`), waits until the scorer serves the published champion, replays the newest landing
day's payments onto the input stream at 500 a second (`streaming.producer`), waits until every one
has its decision or dead letter and every one has landed, prints what happened, and stops them
all. The micro-batches land under data/stream_demo/landing, not in the landing zone, which already
holds the replayed day; the lander writes one every 2 seconds here (its default is a minute).
Latency is from the input message's id to its decision's (both stamped by Redis, in milliseconds).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb
import numpy as np

from ml.settings import settings
from streaming.broker import Broker, read_all
from streaming.consumer import Streams
from streaming.landing import folder
from streaming.launch import start_consumer, stop, wait_caught_up, wait_ready
from streaming.producer import events_for_days, newest_day, publish_at_rate
from streaming.redis_broker import RedisBroker, entry_time
from streaming.redis_server import redis_server

READY_TIMEOUT_S = 300.0
DRAIN_TIMEOUT_S = 120.0
LANDER_ARGS = ("--max-wait-s", "2", "--reclaim-idle-ms", "10000")


def echo(role: str) -> Callable[[str], None]:
    return lambda line: print(f"  {role} | {line.rstrip()}", flush=True)


def report(broker: Broker, streams: Streams, landing: Path, published: int, seconds: float) -> str:
    decisions = [(i, json.loads(body)) for i, body in read_all(broker, streams.decisions)]
    dead = [json.loads(body) for _, body in read_all(broker, streams.dead_letters)]
    latency_ms = np.array(
        [(entry_time(i) - entry_time(d["message_id"])) * 1000 for i, d in decisions], dtype=float
    )
    flagged = sum(bool(d.get("is_flagged")) for _, d in decisions)
    not_scored = sum(d.get("score") is None for _, d in decisions)
    with duckdb.connect() as con:
        files, rows = con.sql(
            f"select count(distinct filename), count(*) from read_parquet("
            f"'{folder(landing)}/*/part-stream-*.parquet', filename = true)"
        ).fetchone()
    p50, p99, p999 = np.percentile(latency_ms, [50, 99, 99.9]) if len(latency_ms) else (0, 0, 0)
    reasons = Counter(d["reason"] for d in dead)
    return "\n".join(
        [
            f"published {published:,} payments in {seconds:.1f} s",
            f"decisions {len(decisions):,} ({flagged:,} flagged, {not_scored:,} not scored), "
            f"dead letters {len(dead):,} {dict(reasons)}",
            f"landed {rows:,} payments in {files:,} micro-batch files under {landing}",
            f"produce to decision, ms (Redis clock, 1 ms steps): p50 {p50:.0f}, p99 {p99:.0f}, "
            f"p99.9 {p999:.0f}, max {latency_ms.max() if len(latency_ms) else 0:.0f}",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m streaming.demo", description=__doc__)
    parser.add_argument("--day", type=date.fromisoformat, help="default: the newest landing day")
    parser.add_argument("--rate", type=float, default=500.0, help="payments per second")
    parser.add_argument(
        "--work-dir", type=Path, help="Redis' files and the landed micro-batches (default: data/stream_demo)"
    )
    args = parser.parse_args(argv)
    config = settings()
    day = args.day or newest_day(config.landing_dir)
    root = args.work_dir or config.landing_dir.parent / "stream_demo"
    landing = root / "landing"
    bodies = list(events_for_days(config.landing_dir, [day]))
    streams = Streams()
    print(f"stream demo: {len(bodies):,} payments of {day} at {args.rate:g}/s", flush=True)
    with redis_server(root / "redis") as url:
        broker = RedisBroker(url)
        for stream in (streams.payments, streams.decisions, streams.dead_letters):
            broker.delete(stream)  # a previous demo's messages
        consumers = [
            start_consumer("scorer", url, on_line=echo("scorer")),
            start_consumer(
                "lander", url, "--landing-dir", str(landing), *LANDER_ARGS, on_line=echo("lander")
            ),
        ]
        try:
            wait_ready(consumers, READY_TIMEOUT_S)
            seconds = publish_at_rate(broker, streams.payments, bodies, args.rate)
            groups = (streams.scorers, streams.landers)
            wait_caught_up(broker, streams, groups, len(bodies), DRAIN_TIMEOUT_S, every_s=0.2)
            print(report(broker, streams, landing, len(bodies), seconds), flush=True)
        finally:
            stop(consumers)
            broker.close()


if __name__ == "__main__":
    main()
