"""`python -m streaming.producer --url redis://... --day 2026-03-01 --rate 500`: replays the
payments of landing days onto the input stream, as the payment service would publish them: each
landing row as an event (streaming/events.py) with the day it was exported on, in file and row
order, at a fixed rate (open loop: message i is due at start + i/rate)."""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq

from ml.settings import settings
from orchestration.lib.landing import newest_days
from streaming.landing import PAYMENTS, folder
from streaming.redis_broker import RedisBroker


def newest_day(landing_dir: Path) -> date:
    """The newest landing day of the payments; SystemExit, naming `make run`, if there is none."""
    newest = newest_days(landing_dir).get((PAYMENTS.system, PAYMENTS.name))
    if newest is None:
        raise SystemExit(f"no payment files under {folder(landing_dir)}: run `make run` first")
    return newest


def events_for_days(landing_dir: Path, days: Sequence[date]) -> Iterator[bytes]:
    """The event bodies of the days' payment files (every part: late files and re-sends too)."""
    for day in days:
        for path in sorted((folder(landing_dir) / f"date={day.isoformat()}").glob("*.parquet")):
            for row in pq.read_table(path).to_pylist():
                payment = {
                    key: str(value) if isinstance(value, Decimal) else value
                    for key, value in row.items()
                    if key != "date"  # hive partition column, when present
                }
                yield json.dumps({"published_on": day.isoformat(), "payment": payment}).encode()


def as_if_later(body: bytes, days: int) -> bytes:
    """The event as if the payment came `days` later: a new payment id (`d<days>_<id>`), paid_at and
    the publication day moved on. A field that cannot be moved (absent, malformed) stays as it is:
    the event stays exactly as malformed as it was."""
    event = json.loads(body)
    payment = event["payment"]
    if isinstance(payment.get("payment_id"), str):
        payment["payment_id"] = f"d{days}_{payment['payment_id']}"
    with contextlib.suppress(AttributeError, TypeError, ValueError):
        moved = datetime.fromisoformat(payment["paid_at"].strip()) + timedelta(days=days)
        payment["paid_at"] = moved.isoformat()  # with its offset, or as naive as it was
    with contextlib.suppress(TypeError, ValueError):
        event["published_on"] = (date.fromisoformat(event["published_on"]) + timedelta(days=days)).isoformat()
    return json.dumps(event).encode()


def live_events(landing_dir: Path, day: date, days_ahead: int) -> Iterator[bytes]:
    """The payments of a landing day as if they came on each of the `days_ahead` days after it, one
    day after another: payments the published snapshot has never seen, within its online features'
    complete windows, so the scorer scores every well-formed one (a replay of past days mostly gets
    "not scored" decisions). For the benchmark and the tests."""
    bodies = list(events_for_days(landing_dir, [day]))
    for ahead in range(1, days_ahead + 1):
        for body in bodies:
            yield as_if_later(body, ahead)


def publish_at_rate(broker: RedisBroker, stream: str, bodies: Sequence[bytes], rate: float) -> float:
    """Publish on schedule; the seconds it took."""
    start = time.perf_counter()
    for number, body in enumerate(bodies):
        delay = start + number / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        broker.publish(stream, body)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m streaming.producer", description=__doc__)
    parser.add_argument("--url", required=True, help="the broker, redis://127.0.0.1:<port>/0")
    parser.add_argument("--day", action="append", type=date.fromisoformat, required=True)
    parser.add_argument("--rate", type=float, default=500.0, help="events per second")
    parser.add_argument("--stream", default="payments")
    parser.add_argument("--landing-dir", type=Path, default=None, help="default: LANDING_DIR")
    args = parser.parse_args(argv)
    landing_dir = args.landing_dir or settings().landing_dir
    bodies = list(events_for_days(landing_dir, args.day))
    if not bodies:
        parser.exit(1, f"no payment files for {[str(d) for d in args.day]} under {landing_dir}\n")
    broker = RedisBroker(args.url)
    try:
        seconds = publish_at_rate(broker, args.stream, bodies, args.rate)
    finally:
        broker.close()
    print(f"published {len(bodies):,} payments in {seconds:.1f} s ({len(bodies) / seconds:.0f}/s)")


if __name__ == "__main__":
    main()
