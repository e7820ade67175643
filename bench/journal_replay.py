"""What the hot-swap replay journal's bound costs at a swap: `python -m bench.journal_replay`
(after `make run`) loads the champion and the online feature state from the published snapshot, as
a swap does, with an empty journal and with journals of growing size, and prints each swap's time.

A journaled payment is replayed into the new state at each swap: the snapshot is asked which of
them it holds, and the others are recorded into the feature windows. Every payment here is new (ids
the warehouse never saw, timed after its newest payment, one a millisecond), the worst case."""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from datetime import timedelta

from serving.hotswap import load_and_replay
from serving.loadtest import new_payments
from serving.schemas import Payment
from serving.scorer import load_scorer
from serving.settings import ServingSettings


def journal(settings: ServingSettings, size: int) -> list[Payment]:
    payments = new_payments(settings.snapshot, size, timedelta(milliseconds=1), "pay_journal_")
    return [Payment(**payment) for payment in payments]


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.journal_replay", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--sizes", default="0,50000,200000", help="journal sizes, comma-separated")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    settings = ServingSettings.from_env()
    load = functools.partial(load_scorer, settings)

    for size in [int(s) for s in args.sizes.split(",")]:
        payments = tuple(journal(settings, size))
        seconds = []
        for _ in range(args.runs):
            started = time.perf_counter()
            _, kept = load_and_replay(load, payments)
            seconds.append(time.perf_counter() - started)
            assert len(kept) == size  # none of them is in the snapshot
        print(
            f"journal {size:>7,} payments: swap load+replay median {statistics.median(seconds):.2f} s "
            f"(min {min(seconds):.2f}, max {max(seconds):.2f}, {args.runs} runs)"
        )


if __name__ == "__main__":
    main()
