"""`python -m bench`: run the pipeline stage by stage at one or more scales and measure every stage.

Writes `bench/results/<scale>.json` per scale, then regenerates the figures section of
docs/benchmarks.md from every result file present. See bench/stages.py for the order of the stages
and bench/scales.py for the worlds.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench import report
from bench.measure import StageFailed
from bench.scales import SCALES
from bench.stages import REPO_ROOT, definitions_load, run_scale


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run the pipeline stage by stage at each scale and measure every stage.",
    )
    parser.add_argument(
        "--scale",
        action="append",
        choices=list(SCALES),
        help="a scale to run, repeatable (default: the `default` scale only)",
    )
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=REPO_ROOT / "data" / "bench",
        help="generated worlds and builds (default: data/bench)",
    )
    baseline = parser.add_mutually_exclusive_group()
    baseline.add_argument("--skip-baseline", action="store_true", help="never run the pandas baseline")
    baseline.add_argument("--baseline", action="store_true", help="run the pandas baseline at every scale")
    parser.add_argument(
        "--skip-dagster",
        action="store_true",
        help="leave out the incremental scenario (dagster_full, dagster_daily) where it would run",
    )
    parser.add_argument(
        "--reuse-data", action="store_true", help="keep a scale's generated world if its arguments match"
    )
    parser.add_argument(
        "--load-samples",
        type=int,
        default=3,
        help="fresh interpreters per side of the definitions-load ratio (default: 3; the best counts)",
    )
    parser.add_argument(
        "--results-dir",
        type=Path,
        default=report.RESULTS_DIR,
        help="where <scale>.json go (default: bench/results)",
    )
    parser.add_argument(
        "--docs", type=Path, default=report.DOCS, help="markdown to regenerate (default: docs/benchmarks.md)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Exit 1 if any stage failed; the scales that failed still get a result file, marked failed."""
    args = parse_args(argv)
    scales = [SCALES[name] for name in dict.fromkeys(args.scale or ["default"])]
    work_dir = args.work_dir.resolve()
    try:
        definitions = definitions_load(work_dir / "logs", args.load_samples)
    except StageFailed as failure:
        print(failure, file=sys.stderr)
        return 1
    print(
        f"definitions load: best {definitions['best_s']:.2f} s of {definitions['samples_s']}; "
        f"import dagster, dagster_dbt: best {definitions['bare_imports_best_s']:.2f} s; "
        f"ratio {definitions['vs_bare_imports']:.2f}",
        flush=True,
    )
    failed = []
    for scale in scales:
        baseline = not args.skip_baseline and (args.baseline or scale.baseline_by_default)
        run = run_scale(scale, work_dir, args.reuse_data, baseline, dagster=not args.skip_dagster)
        result = report.result_document(run, definitions, datetime.now(UTC))
        print(f"wrote {report.write_result(result, args.results_dir)}", flush=True)
        if run.failure:
            failed.append(f"{scale.name}: {run.failure['stage']}")
    report.update_docs(args.docs, report.render(report.load_results(args.results_dir)))
    print(f"updated {args.docs}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
