"""`python -m ml`: train, score, roll back and inspect the models declared in ml/models/*.yml."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, date, datetime

from ml import registry
from ml.domains import active
from ml.duckdb_limits import connect
from ml.errors import ArtifactError, FeatureRelationError, ModelNotFoundError, SpecError, WriteFailedError
from ml.scoring.batch import score
from ml.settings import Settings
from ml.specs import ModelSpec, load_specs, specs_of
from ml.training.run import run_training


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _selected(names: list[str], settings: Settings) -> list[ModelSpec]:
    """The named specs, or those of every domain that runs (ml/domains.py)."""
    specs = load_specs()
    unknown = sorted(set(names) - set(specs))
    if unknown:
        raise SpecError(f"unknown model(s) {unknown}; specs: {sorted(specs)}")
    return [specs[n] for n in names] if names else list(specs_of(specs, active(settings)).values())


def cmd_train(args: argparse.Namespace, settings: Settings) -> None:
    with connect(settings.warehouse_db) as con:
        for spec in _selected(args.models, settings):
            started = time.perf_counter()
            result = run_training(
                con,
                spec,
                settings.models_dir,
                _now(),
                as_of=args.as_of,
                force=args.force,
                cluster=settings.dask_scheduler,
            )
            if not result.retrained:
                role = "champion" if result.promoted else "challenger"
                print(f"{spec.name} v{result.version} -> {role}; {result.gate.summary}")
                continue
            verdict = "champion" if result.promoted else f"challenger ({result.gate.summary})"
            test = {k: round(v, 4) for k, v in result.metrics["test"].items() if isinstance(v, float)}
            print(
                f"{spec.name} v{result.version} -> {verdict}; rows {result.rows}; "
                f"{time.perf_counter() - started:.1f}s; test {json.dumps(test)}"
            )


def cmd_score(args: argparse.Namespace, settings: Settings) -> None:
    with connect(settings.warehouse_db) as con:
        for spec in _selected(args.models, settings):
            started = time.perf_counter()
            result = score(
                con,
                spec,
                settings.models_dir,
                _now(),
                days=tuple(args.days) if args.days else None,
                cluster=settings.dask_scheduler,
            )
            print(
                f"{spec.name} v{result.version}: {result.rows:,} rows -> {result.table}"
                f"{'' if result.flagged is None else f', {result.flagged:,} flagged'}; "
                f"backtest {result.backtest_rows:,} rows -> {result.backtest_table}; "
                f"{time.perf_counter() - started:.1f}s"
            )


def cmd_monitor(args: argparse.Namespace, settings: Settings) -> None:
    from ml.monitoring.run import monitor

    with connect(settings.warehouse_db) as con:
        for spec in _selected(args.models, settings):
            result = monitor(con, spec, settings.models_dir, _now(), as_of=args.as_of)
            print(
                f"{spec.name} v{result.model_version} as of {result.as_of}: {result.windows} windows, "
                f"{result.performance_days} matured days\n"
                f"  feature drift     {result.feature_drift.status:12} {result.feature_drift.summary}\n"
                f"  prediction drift  {result.prediction_drift.status:12} {result.prediction_drift.summary}\n"
                f"  performance       {result.performance.status:12} {result.performance.summary}\n"
                f"  estimated         {result.estimated.status:12} {result.estimated.summary}\n"
                f"  segments          {result.segments.status:12} {result.segments.summary}\n"
                f"  report            {result.report}"
                + "".join(
                    f"\n  estimate's error  {metric}: MAE {error:.4f} over {days} matured days"
                    for metric, (error, days) in result.estimation_error.items()
                )
            )


def cmd_rollback(args: argparse.Namespace, settings: Settings) -> None:
    with connect(settings.warehouse_db) as con:
        registry.ensure_schema(con)
        registry.rollback(con, args.model, args.version, args.reason, _now())
        print(f"{args.model}: champion is now v{args.version}")


def cmd_tables(args: argparse.Namespace, settings: Settings) -> None:
    from ml.monitoring.tables import ensure_tables as ensure_monitoring_tables
    from ml.output_tables import ensure_tables

    with connect(settings.warehouse_db) as con:
        registry.ensure_schema(con)
        ensure_monitoring_tables(con)
        for table in ensure_tables(con, active(settings)):
            print(f"{table}: in place")


def cmd_status(args: argparse.Namespace, settings: Settings) -> None:
    with connect(settings.warehouse_db, read_only=True) as con:
        rows = con.sql(
            "select r.model_name, r.version, r.training_cutoff, a.alias, r.trained_at "
            "from ml.model_registry r left join ml.model_aliases a using (model_name, version) "
            "order by 1, 2"
        ).fetchall()
    for row in rows:
        print(*row, sep="\t")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ml", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train, register and gate models (all specs by default)")
    train.add_argument("models", nargs="*")
    train.add_argument("--as-of", type=datetime.fromisoformat, help="replay: train as of this time")
    train.add_argument(
        "--force", action="store_true", help="train even when a version has the same spec, rows and code"
    )
    train.set_defaults(run=cmd_train)
    watch = sub.add_parser("monitor", help="drift, matured and estimated performance of each champion")
    watch.add_argument("models", nargs="*")
    watch.add_argument("--as-of", type=datetime.fromisoformat, help="replay: what was known at this time")
    watch.set_defaults(run=cmd_monitor)
    scoring = sub.add_parser("score", help="batch-score with each model's champion")
    scoring.add_argument("models", nargs="*")
    scoring.add_argument(
        "--days",
        nargs=2,
        type=date.fromisoformat,
        metavar=("FIRST", "LAST"),
        help="daily specs only: replace the scores of these landing days (inclusive)",
    )
    scoring.set_defaults(run=cmd_score)
    back = sub.add_parser("rollback", help="point a model's champion at an earlier version")
    back.add_argument("model")
    back.add_argument("version", type=int)
    back.add_argument("--reason", default="manual rollback")
    back.set_defaults(run=cmd_rollback)
    tables = sub.add_parser("tables", help="create the ML layer's tables, empty, where they do not exist yet")
    tables.set_defaults(run=cmd_tables)
    status = sub.add_parser("status", help="registered versions and their aliases")
    status.set_defaults(run=cmd_status)
    args = parser.parse_args(argv)
    try:
        args.run(args, Settings.from_environ())  # the paths, read once
    except (SpecError, FeatureRelationError, ModelNotFoundError, ArtifactError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except WriteFailedError as exc:  # a full disk, an I/O error: the step and file named, state kept
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
