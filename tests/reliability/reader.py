"""An analyst in a loop: open the published file read-only, check that it is one consistent snapshot,
close it, again, until a stop file appears. Prints a JSON summary.

Consistency: every authorized payment in `marts.fct_payments` has exactly one fraud score in
`ml.payment_fraud_scores`, and the fraud review queue holds flagged payments only. A reader that saw
half of one publish and half of another would break these.

usage: python -m tests.reliability.reader <analytics.duckdb> <stop-file>
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import duckdb

CHECK = """
select
    (select count(*) from marts.fct_payments where is_authorized) as authorized,
    (select count(*) from ml.payment_fraud_scores) as scored,
    (select count(distinct payment_id) from ml.payment_fraud_scores) as scored_payments,
    (
        select count(*) from marts.fraud_review_queue as queue
        left join ml.payment_fraud_scores as scores using (payment_id)
        where not coalesce(scores.is_flagged, false)
    ) as queued_but_not_flagged
"""


def main(path: Path, stop: Path) -> None:
    queries, errors, inconsistent, snapshots = 0, [], 0, set()
    while not stop.exists():
        try:
            inode = os.stat(path).st_ino
            with duckdb.connect(str(path), read_only=True) as con:
                authorized, scored, scored_payments, stray = con.sql(CHECK).fetchone()
            queries += 1
            snapshots.add(inode)
            if not (authorized == scored == scored_payments and stray == 0):
                inconsistent += 1
        except Exception as exc:  # every error is a failure to report, not to survive silently
            errors.append(f"{type(exc).__name__}: {exc}"[:300])
        time.sleep(0.05)
    print(
        json.dumps(
            {"queries": queries, "errors": errors, "inconsistent": inconsistent, "snapshots": len(snapshots)}
        )
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
