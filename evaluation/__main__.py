"""`python -m evaluation`: print the quality bar table (champions vs the oracle and the baseline)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from evaluation.oracle import run_checks
from ml.settings import DATA_DIR, settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evaluation", description=__doc__)
    parser.add_argument(
        "--warehouse",
        type=Path,
        default=settings().warehouse_db,
    )
    parser.add_argument("--oracle", type=Path, default=DATA_DIR / "oracle")
    args = parser.parse_args(argv)
    checks = run_checks(args.warehouse, args.oracle)
    print("| check | model | reference | value | ratio | rule | rows | result |")
    print("|---|---:|---|---:|---:|---|---:|---|")
    for c in checks:
        print(
            f"| {c.name} | {c.model:.4f} | {c.reference_name} | {c.reference:.4f} "
            f"| {c.model / c.reference:.3f} | {c.rule} | {c.rows:,} | {'pass' if c.passed else 'FAIL'} |"
        )
    return 0 if all(c.passed for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
