"""Analysts under load: `python -m bench.analysts` (after `make run`) starts 20 analyst processes
that run README.md's queries in a loop against the published file (read-only, a new connection per
round, as a notebook that re-runs its cells, with a think time between rounds), first alone, then
while a daily run rebuilds the warehouse and publishes a new snapshot. It prints each phase's query
latency (p50, p95, max), the rounds, the errors, the rounds that saw an inconsistent snapshot and
how many snapshots were seen, and exits non-zero on any error or inconsistency.

A round's consistency check: every authorized payment has exactly one fraud score, the review queue
holds flagged payments only, and the published metric table agrees with the marts beside it. A
round that read half of one snapshot and half of the next would break them."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import numpy as np

from ml.settings import settings

# README.md, "For analysts: querying the warehouse read-only", and a metric table
QUERIES = {
    "sales_by_store": "select store_id, sum(units_sold) as units, sum(revenue_usd) as revenue_usd "
    "from marts.fct_daily_sales where sales_date >= date '2026-01-01' "
    "group by store_id order by revenue_usd desc",
    "review_queue": "select payment_id, paid_at, amount_usd, fraud_score, reason_codes "
    "from marts.fraud_review_queue order by fraud_score desc limit 20",
    "forecast_vs_last_year": "select store_id, forecast_date, sum(predicted_units) as forecast, "
    "sum(units_same_weekday_last_year) as last_year from marts.demand_plan group by all order by 1, 2",
    "alias_history": "select * from ml.model_alias_history order by changed_at",
    "weekly_fraud_metrics": "select * from metrics.weekly_fraud_screening order by metric_time__week",
}
CONSISTENT = """
select
    (select count(*) from marts.fct_payments where is_authorized)
        = (select count(*) from ml.payment_fraud_scores)
    and (select count(*) from ml.payment_fraud_scores)
        = (select count(distinct payment_id) from ml.payment_fraud_scores)
    and not exists (
        select 1 from marts.fraud_review_queue as queue
        left join ml.payment_fraud_scores as scores using (payment_id)
        where not coalesce(scores.is_flagged, false)
    )
    and (select sum(screened_payments) from metrics.weekly_fraud_screening)
        = (select count(*) from marts.fct_payment_outcomes)
"""


def worker(path: Path, stop: Path, out: Path, think_s: float, offset_s: float) -> None:
    """One analyst: after `offset_s`, rounds of every query `think_s` apart until `stop` exists;
    writes its figures to `out`."""
    time.sleep(offset_s)  # the analysts do not start in step
    latencies: list[float] = []
    errors: list[str] = []
    rounds = inconsistent = 0
    snapshots: set[int] = set()
    while not stop.exists():
        try:
            inode = os.stat(path).st_ino
            with duckdb.connect(str(path), read_only=True) as con:
                for sql in QUERIES.values():
                    started = time.perf_counter()
                    con.execute(sql).fetchall()
                    latencies.append((time.perf_counter() - started) * 1000)
                (consistent,) = con.execute(CONSISTENT).fetchone()
            rounds += 1
            snapshots.add(inode)
            inconsistent += not consistent
            time.sleep(think_s)
        except Exception as exc:  # every error is a finding, reported, never survived silently
            errors.append(f"{type(exc).__name__}: {exc}"[:300])
            time.sleep(0.05)
    out.write_text(
        json.dumps(
            {
                "latencies_ms": latencies,
                "errors": errors,
                "rounds": rounds,
                "inconsistent": inconsistent,
                "snapshots": sorted(snapshots),
            }
        )
    )


def phase(
    path: Path,
    work: Path,
    name: str,
    analysts: int,
    think_s: float,
    during: list[str] | None,
    seconds: float,
) -> dict:
    """`analysts` workers for `seconds`, or for as long as the command `during` runs (at most
    `seconds`: then it is killed and the phase fails)."""
    stop = work / f"{name}.stop"
    stop.unlink(missing_ok=True)
    outs = [work / f"{name}-{n}.json" for n in range(analysts)]
    workers = [
        subprocess.Popen(
            [
                *(sys.executable, "-m", "bench.analysts", "--worker", str(path), str(stop), str(out)),
                *("--think-seconds", str(think_s), "--offset-seconds", str(think_s * n / analysts)),
            ]
        )
        for n, out in enumerate(outs)
    ]
    started = time.perf_counter()
    command_rc = None
    if during is None:
        time.sleep(seconds)
    else:
        time.sleep(2.0)  # the analysts are querying when the run starts
        with (work / f"{name}.log").open("w") as log:
            try:
                command_rc = subprocess.run(
                    during, stdout=log, stderr=subprocess.STDOUT, timeout=seconds
                ).returncode
            except subprocess.TimeoutExpired:
                command_rc = -1  # killed: longer than the bound
        time.sleep(2.0)  # and they query the new snapshot
    stop.touch()
    for process in workers:
        process.wait(timeout=120)
    figures = [json.loads(out.read_text()) for out in outs]
    latencies = np.array([ms for f in figures for ms in f["latencies_ms"]])
    return {
        "phase": name,
        "analysts": analysts,
        "think_seconds": think_s,
        "seconds": round(time.perf_counter() - started, 1),
        "queries": int(latencies.size),
        "rounds": sum(f["rounds"] for f in figures),
        "p50_ms": round(float(np.percentile(latencies, 50)), 2) if latencies.size else None,
        "p95_ms": round(float(np.percentile(latencies, 95)), 2) if latencies.size else None,
        "max_ms": round(float(latencies.max()), 2) if latencies.size else None,
        "errors": [e for f in figures for e in f["errors"]],
        "inconsistent": sum(f["inconsistent"] for f in figures),
        "snapshots": len({s for f in figures for s in f["snapshots"]}),
        "run_exit_code": command_rc,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.analysts", description=__doc__.splitlines()[0])
    parser.add_argument("--worker", nargs=3, metavar=("DB", "STOP", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--analysts", type=int, default=20)
    parser.add_argument("--think-seconds", type=float, default=1.0, help="between an analyst's rounds")
    parser.add_argument("--offset-seconds", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--run-timeout", type=float, default=1200.0, help="bound on the daily run (s)")
    parser.add_argument("--day", help="the landing day the daily run reloads (default: the latest)")
    parser.add_argument("--work-dir", type=Path, default=Path("data/bench-analysts"))
    args = parser.parse_args()
    if args.worker:
        worker(*(Path(p) for p in args.worker), args.think_seconds, args.offset_seconds)
        return
    paths = settings()
    day = args.day or max(p.name.removeprefix("date=") for p in paths.landing_dir.glob("*/*/date=*"))
    args.work_dir.mkdir(parents=True, exist_ok=True)
    run = [sys.executable, "-m", "orchestration.run", "daily_refresh", "--day", day]
    results = [
        phase(
            paths.analytics_db,
            args.work_dir,
            "alone",
            args.analysts,
            args.think_seconds,
            None,
            args.idle_seconds,
        ),
        phase(
            paths.analytics_db,
            args.work_dir,
            "during_daily_run",
            args.analysts,
            args.think_seconds,
            run,
            args.run_timeout,
        ),
    ]
    for result in results:
        print(
            json.dumps({k: v for k, v in result.items() if k != "errors"}), f"errors: {result['errors'][:3]}"
        )
    failed = any(r["errors"] or r["inconsistent"] or r["run_exit_code"] not in (None, 0) for r in results)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
