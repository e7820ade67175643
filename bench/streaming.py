"""The stream path under load: `python -m bench.streaming` (after `make run`) measures, on this
machine, what `make stream-demo` runs: Redis on loopback, the scorer and the lander
(`python -m streaming.service scorer|lander`, the lander with --max-wait-s 5 --reclaim-idle-ms 30000)
on the published snapshot (ANALYTICS_DB, MODELS_DIR: `ml.settings`), fed with the newest landing
day's payments as if they came on the following days (`streaming.producer.live_events`): new to
the snapshot, so every well-formed one is scored, as live traffic would be.

Each phase starts a fresh Redis (data/bench/streaming/redis), fresh consumers and a fresh landing
folder (data/bench/streaming/<phase>/landing), and stops them all (SIGTERM, wait) after:

1. latency at each fixed rate (500/s and 2,000/s for --seconds after --warmup-s not counted):
   produce to decision, from the input message's Redis id to its decision's (Redis' clock, 1 ms
   steps), over every decision and over the scored ones only;
2. saturation: --saturation-payments pre-filled with no consumer running, then the scorer started:
   the rate it drains at (decisions over the span of their Redis ids), then the lander alone (ready
   to drained);
3. a burst at --burst-factor times the scorer's drain rate of 2. (at most the producer's pre-fill
   rate) for --burst-seconds: the scorers' lag and pending sampled every 0.5 s from its start until
   both groups are drained, the peak, and the time the scorers took to drain after the burst.

Every phase checks that each payment got exactly one decision or dead letter (by message id) and
landed exactly once (the micro-batch footers' message ids; payment ids as multisets), and records
the CPU time (/proc/<pid>/stat) the scorer, the lander and redis-server spent per payment, their
peak RSS (VmHWM) and Redis' costliest commands. The producer here pipelines the messages due in one
round trip and reports its achieved rate and lateness; `streaming.producer.publish_at_rate` (one
XADD per round trip) is measured unthrottled once. Writes bench/results/streaming.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import redis

from bench.report import RESULTS_DIR, git_state, machine
from ml.settings import settings
from streaming.broker import read_all
from streaming.consumer import Streams
from streaming.events import MalformedEvent, landing_message
from streaming.landing import IDS_KEY, stream_files
from streaming.launch import Consumer, start_consumer, stop, wait_caught_up, wait_ready
from streaming.producer import as_if_later, events_for_days, newest_day, publish_at_rate
from streaming.redis_broker import FIELD, RedisBroker, entry_time
from streaming.redis_server import redis_server

LANDER_ARGS = ("--max-wait-s", "5", "--reclaim-idle-ms", "30000")
READY_TIMEOUT_S = 300.0
DRAIN_TIMEOUT_S = 300.0
PIPELINE_CHUNK = 1_000  # messages per producer round trip, at most
PROBE_PAYMENTS = 10_000  # publish_at_rate's ceiling is measured on these
CLOCK_TICK_S = 1 / os.sysconf("SC_CLK_TCK")
STREAMS = Streams()
GROUPS = (STREAMS.scorers, STREAMS.landers)
SERIES_COLUMNS = ("t_s", "scorer_lag", "scorer_pending", "lander_lag", "lander_pending")


@dataclass(frozen=True)
class Batch:
    """Published payments: Redis ids, bodies and payment ids, in order."""

    ids: list[str]
    bodies: list[bytes]
    payment_ids: list[str | None]

    def __add__(self, other: Batch) -> Batch:
        return Batch(self.ids + other.ids, self.bodies + other.bodies, self.payment_ids + other.payment_ids)


class Payments:
    """The newest landing day's payments as if they came on the following days
    (`streaming.producer.live_events`): new to the published snapshot and within its online
    features' complete windows, so every well-formed one is scored, as live traffic would be."""

    def __init__(self, landing_dir: Path) -> None:
        self.day = newest_day(landing_dir)
        self.bodies = list(events_for_days(landing_dir, [self.day]))

    def live(self, n: int) -> Batch:
        """`n` payments: the day as if on the next day, then the one after, and so on."""
        bodies = [
            as_if_later(body, ahead)
            for ahead in range(1, math.ceil(n / len(self.bodies)) + 1)
            for body in self.bodies
        ][:n]
        return Batch([], bodies, [json.loads(body)["payment"].get("payment_id") for body in bodies])


# --- producer --------------------------------------------------------------------------------------


def publish_paced(url: str, payments: Batch, rate: float | None) -> tuple[Batch, dict[str, Any]]:
    """Open loop: message i is due at start + i/rate (all at once if `rate` is None); whatever is due
    goes in one pipelined round trip (PIPELINE_CHUNK at most), so a late producer catches up.
    The published batch and the producer's figures: achieved rate, lateness (sent minus due)."""
    client = redis.Redis.from_url(url, protocol=2)
    bodies, ids, lateness = payments.bodies, [], np.zeros(len(payments.bodies))
    start = time.perf_counter()
    try:
        while len(ids) < len(bodies):
            sent, now = len(ids), time.perf_counter()
            due = len(bodies) if rate is None else min(len(bodies), int((now - start) * rate) + 1)
            if rate is not None and due <= sent:
                time.sleep(max(0.0, start + sent / rate - now))
                continue
            numbers = np.arange(sent, min(due, sent + PIPELINE_CHUNK))
            if rate is not None:
                lateness[numbers] = now - start - numbers / rate
            pipe = client.pipeline(transaction=False)
            for number in numbers:
                pipe.xadd(STREAMS.payments, {FIELD: bodies[number]})
            ids.extend(entry.decode() for entry in pipe.execute())
    finally:
        client.close()
    seconds = time.perf_counter() - start
    figures = {"target_per_s": rate, "payments": len(ids), "achieved_per_s": len(ids) / seconds}
    if rate is not None:
        p50, p99 = np.percentile(lateness * 1000, [50, 99])
        figures |= {"late_ms_p50": p50, "late_ms_p99": p99, "late_ms_max": lateness.max() * 1000}
    return Batch(ids, bodies, payments.payment_ids), figures


def round_trip_ceiling(url: str, bodies: Sequence[bytes]) -> dict[str, Any]:
    """`publish_at_rate` unthrottled (one XADD per round trip), on a stream of its own."""
    broker = RedisBroker(url)
    try:
        seconds = publish_at_rate(broker, "bench_probe", bodies, rate=1e12)
        broker.delete("bench_probe")
    finally:
        broker.close()
    return {"payments": len(bodies), "achieved_per_s": len(bodies) / seconds}


# --- processes -------------------------------------------------------------------------------------


def cpu_s(pids: dict[str, int]) -> dict[str, float]:
    """utime + stime of each process so far (fields 14 and 15 of proc(5)'s /proc/<pid>/stat)."""
    fields = {
        name: Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split() for name, pid in pids.items()
    }
    return {name: (int(f[11]) + int(f[12])) * CLOCK_TICK_S for name, f in fields.items()}


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return math.nan


def cost(pids: dict[str, int], before: dict[str, float], payments: int) -> dict[str, Any]:
    """CPU per payment of each process since `before`, and its peak RSS."""
    after = cpu_s({name: pids[name] for name in before})
    return {
        name: {
            "cpu_s": after[name] - before[name],
            "cpu_us_per_payment": (after[name] - before[name]) / payments * 1e6,
            "peak_rss_mb": peak_rss_mb(pids[name]),
        }
        for name in before
    }


# --- the broker's side -----------------------------------------------------------------------------


def wait_drained(broker: RedisBroker, groups: Sequence[str], published: int) -> float:
    """Seconds until the groups have taken and acknowledged every message (and the scorers answered)."""
    return wait_caught_up(broker, STREAMS, groups, published, DRAIN_TIMEOUT_S, every_s=0.05)


class Sampler(threading.Thread):
    """SERIES_COLUMNS every `every_s`."""

    def __init__(self, url: str, every_s: float) -> None:
        super().__init__(daemon=True)
        self.broker, self.every_s = RedisBroker(url), every_s
        self.samples: list[tuple[float, ...]] = []
        self.halt = threading.Event()
        self.t0 = time.monotonic()

    def run(self) -> None:
        while True:
            t = time.monotonic() - self.t0
            figures = [f(STREAMS.payments, g) for g in GROUPS for f in (self.broker.lag, self.broker.pending)]
            self.samples.append((t, *figures))
            if self.halt.wait(self.every_s):
                self.broker.close()
                return


def redis_facts(url: str, after: str | None = None) -> dict[str, Any]:
    """Redis' pid, its five costliest commands so far, and the span of the decisions' ids after `after`."""
    client = redis.Redis.from_url(url, protocol=2)
    try:
        stats = client.info("commandstats")
        top = sorted(stats.items(), key=lambda item: -item[1]["usec"])[:5]
        first = client.xrange(STREAMS.decisions, min=f"({after}" if after else "-", count=1)
        last = client.xrevrange(STREAMS.decisions, count=1)
        return {
            "pid": int(client.info("server")["process_id"]),
            "commands": {name.removeprefix("cmdstat_"): s for name, s in top},
            "decisions_span_s": entry_time(last[0][0]) - entry_time(first[0][0]) if first else None,
            "last_decision": last[0][0].decode() if last else None,
        }
    finally:
        client.close()


# --- what came out ---------------------------------------------------------------------------------


def percentiles(values_ms: np.ndarray) -> dict[str, float]:
    if not len(values_ms):
        return {"n": 0}
    p50, p99, p999 = np.percentile(values_ms, [50, 99, 99.9])
    return {"n": len(values_ms), "p50": p50, "p99": p99, "p99_9": p999, "max": values_ms.max()}


def decisions(broker: RedisBroker, published: Batch, warmup: int) -> dict[str, Any]:
    """Each message answered once (decision or dead letter); latency after the warm-up."""
    answers = [(i, json.loads(body)) for i, body in read_all(broker, STREAMS.decisions)]
    dead = [json.loads(body) for _, body in read_all(broker, STREAMS.dead_letters)]
    times = Counter([d["message_id"] for _, d in answers] + [d["message_id"] for d in dead])
    counted = set(published.ids[warmup:])
    kept = [(i, d) for i, d in answers if d["message_id"] in counted]
    latency = np.array([(entry_time(i) - entry_time(d["message_id"])) * 1000 for i, d in kept])
    scored = np.array([d["score"] is not None for _, d in kept], dtype=bool)
    return {
        "decisions": len(answers),
        "scored": sum(d["score"] is not None for _, d in answers),
        "not_scored": sum(d["score"] is None for _, d in answers),
        "dead_letters": len(dead),
        "missing": sum(times[i] == 0 for i in published.ids),
        "answered_twice_or_more": sum(n > 1 for n in times.values()),
        "latency_ms_all": percentiles(latency),
        "latency_ms_scored": percentiles(latency[scored] if len(latency) else latency),
    }


def landed(landing: Path, published: Batch) -> dict[str, Any]:
    """Each accepted message landed once: by message id (footers) and payment id (rows, as multisets)."""
    files = stream_files(landing)
    by_message: Counter[str] = Counter()
    by_payment: Counter[str | None] = Counter()
    for path in files:
        by_message.update(json.loads(pq.read_schema(path).metadata[IDS_KEY]))
        by_payment.update(pq.read_table(path, columns=["payment_id"]).column(0).to_pylist())
    expected, refused = Counter(published.payment_ids), 0
    for number, message_id in enumerate(published.ids):
        if not by_message[message_id]:
            try:
                landing_message(message_id, published.bodies[number])
            except MalformedEvent:
                refused += 1
                expected[published.payment_ids[number]] -= 1
    return {
        "landed": sum(by_message.values()),
        "files": len(files),
        "refused_by_schema": refused,
        "accepted_not_landed": sum(not by_message[i] for i in published.ids) - refused,
        "landed_twice_or_more": sum(n > 1 for n in by_message.values()),
        "payment_ids_match": +expected == +by_payment,
    }


# --- the phases ------------------------------------------------------------------------------------


@dataclass
class Running:
    """A phase's Redis, a client on it, the consumers started and the pids measured."""

    url: str
    broker: RedisBroker
    consumers: list[Consumer]
    pids: dict[str, int]


FAILURES = ("missing", "answered_twice_or_more", "accepted_not_landed", "landed_twice_or_more")


class Bench:
    def __init__(self, work: Path, payments: Payments) -> None:
        self.work, self.payments = work, payments
        self.failed: list[str] = []

    def fresh(self, phase: str) -> Path:
        for stale in (self.work / "redis", self.work / phase):
            shutil.rmtree(stale, ignore_errors=True)
        (self.work / phase).mkdir(parents=True)
        return self.work / phase

    @contextmanager
    def running(self, phase: str) -> Iterator[Running]:
        """A fresh Redis and folder for `phase`; the consumers started in it stopped at the end."""
        self.fresh(phase)
        with redis_server(self.work / "redis") as url:
            run = Running(url, RedisBroker(url), [], {"redis": redis_facts(url)["pid"]})
            try:
                yield run
            finally:
                stop(run.consumers)
                run.broker.close()

    def start(self, run: Running, phase: str, *roles: str) -> None:
        """The consumers, each printing to <phase>/<role>.log, once they serve."""
        landing = ("--landing-dir", str(self.work / phase / "landing"), *LANDER_ARGS)
        started = []
        for role in roles:
            log = (self.work / phase / f"{role}.log").open("w", buffering=1)
            args = landing if role == "lander" else ()
            started.append(start_consumer(role, run.url, *args, on_line=log.write))
        wait_ready(started, READY_TIMEOUT_S)
        run.consumers += started
        run.pids |= {consumer.role: consumer.process.pid for consumer in started}

    def outcome(self, phase: str, broker: RedisBroker, published: Batch, warmup: int = 0) -> dict[str, Any]:
        result = decisions(broker, published, warmup) | landed(self.work / phase / "landing", published)
        bad = [key for key in FAILURES if result[key]] + (
            [] if result["payment_ids_match"] else ["payment ids"]
        )
        self.failed += [f"{phase}: {key}" for key in bad]
        return result

    def latency(self, rate: float, seconds: float, warmup_s: float) -> dict[str, Any]:
        phase, warmup, n = f"rate_{rate:g}", int(rate * warmup_s), int(rate * (warmup_s + seconds))
        payments = self.payments.live(n)
        with self.running(phase) as run:
            self.start(run, phase, "scorer", "lander")
            before = cpu_s(run.pids)
            published, producer = publish_paced(run.url, payments, rate)
            wait_drained(run.broker, GROUPS, n)
            return {
                "phase": phase,
                "rate_per_s": rate,
                "seconds": seconds,
                "warmup_s": warmup_s,
                "producer": producer,
                "cost": cost(run.pids, before, n),
                "redis_commands": redis_facts(run.url)["commands"],
                **self.outcome(phase, run.broker, published, warmup),
            }

    def saturation(self, n: int) -> dict[str, Any]:
        phase = "saturation"
        with self.running(phase) as run:
            payments = self.payments.live(n)
            ceiling = round_trip_ceiling(run.url, payments.bodies[:PROBE_PAYMENTS])
            redis_before = cpu_s(run.pids)
            published, producer = publish_paced(run.url, payments, None)
            self.start(run, phase, "scorer")
            before = cpu_s({"scorer": run.pids["scorer"]})
            scorer_wall = wait_drained(run.broker, (STREAMS.scorers,), n)
            scorer_cost = cost(run.pids, before, n)
            scorer_facts = redis_facts(run.url)
            self.start(run, phase, "lander")
            before = cpu_s({"lander": run.pids["lander"]})
            lander_wall = wait_drained(run.broker, (STREAMS.landers,), n)
            mixed_cost = scorer_cost | cost(run.pids, before, n) | cost(run.pids, redis_before, n)
            return {
                "phase": phase,
                "payments": n,
                "producer_one_xadd_per_round_trip": ceiling,
                "producer_pipelined_prefill": producer,
                "scorer_drain_per_s": n / scorer_facts["decisions_span_s"],
                "scorer_decisions_span_s": scorer_facts["decisions_span_s"],
                "scorer_ready_to_drained_s": scorer_wall,
                "lander_drain_per_s": n / lander_wall,
                "lander_ready_to_drained_s": lander_wall,
                "cost": mixed_cost,
                "redis_commands": redis_facts(run.url)["commands"],
                **self.outcome(phase, run.broker, published),
            }

    def burst(self, rate: float, seconds: float) -> dict[str, Any]:
        phase, n = "burst", int(rate * seconds)
        payments = self.payments.live(n)
        with self.running(phase) as run:
            self.start(run, phase, "scorer", "lander")
            before = cpu_s(run.pids)
            sampler = Sampler(run.url, 0.5)
            sampler.start()
            published, producer = publish_paced(run.url, payments, rate)
            end = time.monotonic() - sampler.t0
            scorers_drained = wait_drained(run.broker, (STREAMS.scorers,), n)
            wait_drained(run.broker, GROUPS, n)
            sampler.halt.set()
            sampler.join()
            series = sampler.samples
            return {
                "phase": phase,
                "rate_per_s": rate,
                "seconds": seconds,
                "producer": producer,
                "peak_scorer_lag": max(s[1] for s in series),
                "peak_lander_lag": max(s[3] for s in series),
                "burst_end_s": end,
                "scorer_drained_after_burst_s": scorers_drained,
                "cost": cost(run.pids, before, n),
                "redis_commands": redis_facts(run.url)["commands"],
                **self.outcome(phase, run.broker, published),
                "series": {"columns": SERIES_COLUMNS, "rows": series},
            }


# --- report ----------------------------------------------------------------------------------------


def ms(f: dict) -> str:
    if not f["n"]:
        return "no samples"
    return (
        f"p50 {f['p50']:.0f}, p99 {f['p99']:.0f}, p99.9 {f['p99_9']:.0f}, max {f['max']:.0f} (n={f['n']:,})"
    )


def cost_line(cost: dict) -> str:
    return "  CPU/payment, peak RSS: " + "; ".join(
        f"{name} {c['cpu_us_per_payment']:.0f} us, {c['peak_rss_mb']:.0f} MB" for name, c in cost.items()
    )


def checks_line(r: dict) -> str:
    return (
        f"  decisions {r['decisions']:,} ({r['scored']:,} scored, {r['not_scored']:,} not scored), "
        f"dead letters {r['dead_letters']:,}; missing {r['missing']}, twice {r['answered_twice_or_more']}\n"
        f"  landed {r['landed']:,} in {r['files']} files; refused by the schema {r['refused_by_schema']}, "
        f"accepted not landed {r['accepted_not_landed']}, twice {r['landed_twice_or_more']}, "
        f"payment ids match: {r['payment_ids_match']}"
    )


def producer_line(p: dict) -> str:
    return (
        f"  producer {p['payments']:,} at {p['achieved_per_s']:,.0f}/s (target {p['target_per_s']:,.0f}/s), "
        f"late p50 {p['late_ms_p50']:.1f} ms, p99 {p['late_ms_p99']:.1f}, max {p['late_ms_max']:.1f}"
    )


def render(result: dict) -> str:
    lines = [f"lander {' '.join(LANDER_ARGS)}; latency on Redis ids (1 ms steps); {os.cpu_count()} CPUs"]
    for r in result["latency"]:
        lines += [
            f"{r['rate_per_s']:,.0f}/s for {r['seconds']:g} s after a {r['warmup_s']:g} s warm-up",
            producer_line(r["producer"]),
            f"  produce->decision ms, all:    {ms(r['latency_ms_all'])}",
            f"  produce->decision ms, scored: {ms(r['latency_ms_scored'])}",
            checks_line(r),
            cost_line(r["cost"]),
        ]
    s = result["saturation"]
    lines += [
        f"saturation, {s['payments']:,} pre-filled; producers unthrottled: publish_at_rate (one XADD per "
        f"round trip) {s['producer_one_xadd_per_round_trip']['achieved_per_s']:,.0f}/s, "
        f"pipelined {s['producer_pipelined_prefill']['achieved_per_s']:,.0f}/s",
        f"  scorer drains {s['scorer_drain_per_s']:,.0f}/s ({s['scorer_decisions_span_s']:.2f} s of "
        f"decisions); "
        f"lander {s['lander_drain_per_s']:,.0f}/s ({s['lander_ready_to_drained_s']:.2f} s ready->drained)",
        cost_line(s["cost"]),
        checks_line(s),
    ]
    b = result["burst"]
    lines += [
        f"burst at {b['rate_per_s']:,.0f}/s for {b['seconds']:g} s",
        producer_line(b["producer"]),
        f"  scorers' peak lag {b['peak_scorer_lag']:,} (0.5 s samples), drained "
        f"{b['scorer_drained_after_burst_s']:.1f} s after the burst ended; landers' peak lag "
        f"{b['peak_lander_lag']:,}",
        f"  produce->decision ms, all: {ms(b['latency_ms_all'])}",
        checks_line(b),
        cost_line(b["cost"]),
        "checks: " + (", ".join(result["failed_checks"]) or "all passed"),
    ]
    return "\n".join(lines)


def rounded(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(v) for v in value]
    if isinstance(value, float | np.floating):
        return round(float(value), 3)
    return value.item() if isinstance(value, np.generic) else value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.streaming", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rate", type=float, action="append", help="payments/s, repeatable (500, 2000)")
    parser.add_argument("--seconds", type=float, default=30.0, help="of publishing at each rate")
    parser.add_argument("--warmup-s", type=float, default=3.0, help="published first, not counted")
    parser.add_argument("--saturation-payments", type=int, default=100_000)
    parser.add_argument("--burst-seconds", type=float, default=60.0)
    parser.add_argument("--burst-factor", type=float, default=1.5, help="times the scorer's drain rate")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "streaming.json")
    args = parser.parse_args(argv)
    rates = args.rate or [500.0, 2000.0]
    config = settings()
    bench = Bench(config.landing_dir.resolve().parent / "bench" / "streaming", Payments(config.landing_dir))
    started = time.monotonic()
    latency = [bench.latency(rate, args.seconds, args.warmup_s) for rate in rates]
    saturation = bench.saturation(args.saturation_payments)
    ceiling = saturation["producer_pipelined_prefill"]["achieved_per_s"]
    burst = bench.burst(
        round(min(args.burst_factor * saturation["scorer_drain_per_s"], ceiling)), args.burst_seconds
    )
    result = rounded(
        {
            "command": " ".join(["python -m bench.streaming", *(sys.argv[1:] if argv is None else argv)]),
            "machine": machine(),
            "git": git_state(),
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "snapshot": str(config.analytics_db),
            "parameters": vars(args) | {"rate": rates, "out": str(args.out), "lander_args": LANDER_ARGS},
            "latency": latency,
            "saturation": saturation,
            "burst": burst,
            "failed_checks": bench.failed,
            "wall_s": time.monotonic() - started,
        }
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(render(result), flush=True)
    print(f"wrote {args.out} after {result['wall_s']:.0f} s")
    for landing in bench.work.glob("*/landing"):  # up to ~1 GB of micro-batches; the logs stay
        shutil.rmtree(landing)
    return 1 if bench.failed else 0


if __name__ == "__main__":
    sys.exit(main())
