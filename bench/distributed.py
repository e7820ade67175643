"""One process against a Dask cluster: each retail model trained with `engine: local` and with
`engine: dask` on the same labelled rows of a built warehouse, each in a subprocess measured for wall
time and the peak memory of its process tree (the local cluster's workers included).

    python -m bench.distributed [--workers 2]        # the warehouse at WAREHOUSE_DB (make run's)

Writes bench/results/distributed.json and prints a table (docs/scale-out.md quotes it). The test
metric is the one each spec gates on; the model hash shows whether two trainings gave the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from bench.measure import run_measured
from ml.settings import REPO_ROOT, settings
from orchestration.lib.markdown import markdown_table

MODELS = {"payment_fraud": "auc_pr", "daily_demand": "wape"}
ENGINES = ("local", "dask")
RESULTS = REPO_ROOT / "bench" / "results" / "distributed.json"


def train_once(model: str, engine: str, workers: int, database: Path, out: Path) -> None:
    """The child: fit one model with one engine; its metrics, stop and model hash to `out`."""
    import duckdb

    from ml.dataset import load_labelled, resolve_cutoff
    from ml.specs import load_specs
    from ml.training.fit import fit
    from ml.training.run import test_metrics

    spec = load_specs()[model]
    spec = replace(spec, lightgbm=replace(spec.lightgbm, engine=engine, workers=workers))
    with duckdb.connect(str(database), read_only=True) as con:
        data = load_labelled(con, spec, resolve_cutoff(con, spec, None))
    trained = fit(spec, data)
    metrics, _, _ = test_metrics(trained, data)
    text = trained.booster.model_to_string()
    out.write_text(
        json.dumps(
            {
                "train_rows": data.part("train", ["_label"]).height,
                "best_iteration": trained.best_iteration,
                "metric": MODELS[model],
                "value": metrics[MODELS[model]],
                "model_sha256": hashlib.sha256(text.encode()).hexdigest(),
            }
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.distributed", description=__doc__)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--child", nargs=3, metavar=("MODEL", "ENGINE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    database = settings().resolved().warehouse_db
    if args.child:
        model, engine, out = args.child
        train_once(model, engine, args.workers, database, Path(out))
        return 0
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-distributed-") as folder:
        for model in MODELS:
            for engine in ENGINES:
                out = Path(folder) / f"{model}-{engine}.json"
                argv_child = [sys.executable, "-m", "bench.distributed", "--workers", str(args.workers)]
                argv_child += ["--child", model, engine, str(out)]
                log = Path(folder) / f"{model}-{engine}.log"
                measured = run_measured(f"{model} {engine}", argv_child, os.environ, REPO_ROOT, log)
                row = {"model": model, "engine": engine, "wall_s": round(measured.wall_s, 1)}
                row |= {"peak_rss_mb": round(measured.peak_rss_mb), **json.loads(out.read_text())}
                results.append(row)
                print(f"{model:14} {engine:6} {row['wall_s']:7.1f} s  {row['metric']} {row['value']:.4f}")
    RESULTS.write_text(json.dumps({"workers": args.workers, "runs": results}, indent=2) + "\n")
    header = ("model", "engine", "wall s", "peak MiB", "train rows", "stopped at", "test metric")
    rows = [
        (
            *(r["model"], r["engine"], r["wall_s"], r["peak_rss_mb"], f"{r['train_rows']:,}"),
            *(r["best_iteration"], f"{r['metric']} {r['value']:.4f}"),
        )
        for r in results
    ]
    print(markdown_table(header, rows, right=("wall s", "peak MiB", "train rows", "stopped at")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
