"""Scoring figures of the fraud champion, side by side in one process and one run.

- end to end (`ml.scoring.batch.score`: DuckDB in, features, model, DuckDB table out) in four variants:
  the shipped configuration, compiled forest forced, compiled with path reason codes, LightGBM;
- bare `Booster.predict` and the compiled forest on the same rows already in memory as a NumPy
  matrix, with the largest difference between the two;
- the compile time of the forest (a fresh cache) and TreeSHAP against path attribution on the
  flagged rows (time, agreement of the top reason code).

`python -m bench.scoring --json OUT` against $WAREHOUSE_DB and $MODELS_DIR (a built warehouse with a
fraud champion). It rewrites ml.payment_fraud_scores, so run it on a benchmark copy.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np

from ml import registry
from ml.artifacts import load_artifact
from ml.dataset import to_matrix
from ml.scoring.attribution import PathAttribution, top_reasons
from ml.scoring.batch import score, scoring_where
from ml.scoring.compiled import compile_model
from ml.settings import Settings
from ml.specs import ModelSpec, load_specs
from orchestration.lib.environment import environ_set

MODEL = "payment_fraud"
REPEATS = 3  # best of, for the in-memory timings (seconds or less each)


def _best(function: Callable[[], object], repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def _end_to_end(con: duckdb.DuckDBPyConnection, spec: ModelSpec, models_dir: Path, setting: str) -> dict:
    now = datetime.now(UTC).replace(tzinfo=None)
    with environ_set({"ML_COMPILED_SCORING": setting}):
        started = time.perf_counter()
        result = score(con, spec, models_dir, now)
        seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 3),
        "rows": result.rows,
        "rows_per_s": round(result.rows / seconds),
        "engine": result.engine,
        "reason_method": spec.reason_method,
        "flagged": result.flagged,
    }


def measure() -> dict:
    spec = load_specs()[MODEL]
    settings = Settings.from_environ()
    with duckdb.connect(str(settings.warehouse_db)) as con:
        champion = registry.resolve(con, MODEL)
        artifact_dir = champion.artifact_dir(settings.models_dir)
        model = load_artifact(artifact_dir, champion.artifact_hash)
        model_file = artifact_dir / "model.txt"

        # compile time from an empty cache (the run's own cache is warmed by the first pass below)
        with tempfile.TemporaryDirectory(prefix="lleaves-") as cache:
            started = time.perf_counter()
            forest = compile_model(model_file, True, Path(cache), spec.lightgbm.num_threads)
            compile_s = time.perf_counter() - started
        assert forest is not None, "lleaves is not installed"

        # warm-up: the backtest of this version and the compile cache, as in a daily run
        score(con, spec, settings.models_dir, datetime.now(UTC).replace(tzinfo=None))
        variants = {
            "shipped": _end_to_end(
                con, spec, settings.models_dir, os.environ.get("ML_COMPILED_SCORING", "auto")
            ),
            "compiled": _end_to_end(con, spec, settings.models_dir, "always"),
            "compiled_path_reasons": _end_to_end(
                con, replace(spec, reason_method="path"), settings.models_dir, "always"
            ),
            "lightgbm": _end_to_end(con, spec, settings.models_dir, "never"),
        }

        where = " and ".join(scoring_where(spec, champion.training_cutoff)) or "true"
        columns = ", ".join(spec.features.names)
        frame = con.sql(f"select {columns} from {spec.features_relation} where {where}").pl()
    matrix = np.ascontiguousarray(to_matrix(model.codebook.encode(frame), spec.features.names))
    rows = matrix.shape[0]
    predict_s = _best(lambda: model.booster.predict(matrix, raw_score=True))
    compiled_s = _best(lambda: forest.predict(matrix))
    difference = float(np.max(np.abs(forest.predict(matrix) - model.booster.predict(matrix, raw_score=True))))

    flagged = matrix[model.predict_frame_matrix(matrix) >= model.threshold]
    shap_s = _best(lambda: model.booster.predict(flagged, pred_contrib=True), repeats=1)
    attribution = PathAttribution.from_booster(model.booster)
    path_s = _best(lambda: attribution.contributions(model.booster.predict(flagged, pred_leaf=True)))
    shap = top_reasons(model.booster.predict(flagged, pred_contrib=True)[:, :-1], spec.features.names, 1)
    path = top_reasons(
        attribution.contributions(model.booster.predict(flagged, pred_leaf=True)), spec.features.names, 1
    )
    agreement = float(np.mean([a == b for a, b in zip(shap, path, strict=True)])) if shap else None

    shipped = variants["shipped"]
    return {
        "model": MODEL,
        "version": champion.version,
        "trees": model.booster.num_trees(),
        "rows": rows,
        "end_to_end": variants,
        "end_to_end_rows_per_s": shipped["rows_per_s"],
        "best_end_to_end_rows_per_s": max(v["rows_per_s"] for v in variants.values()),
        "lightgbm_predict_s": round(predict_s, 3),
        "lightgbm_predict_rows_per_s": round(rows / predict_s),
        "compiled_predict_s": round(compiled_s, 3),
        "compiled_predict_rows_per_s": round(rows / compiled_s),
        "compiled_vs_lightgbm_predict": round(predict_s / compiled_s, 2),
        "compiled_max_abs_difference": difference,
        "compile_s": round(compile_s, 2),
        # throughput of the whole DuckDB-to-DuckDB pass over bare predict's: < 1 is data movement cost
        "end_to_end_vs_lightgbm_predict": round(shipped["rows_per_s"] / (rows / predict_s), 2),
        "best_end_to_end_vs_lightgbm_predict": round(
            max(v["rows_per_s"] for v in variants.values()) / (rows / predict_s), 2
        ),
        "reason_codes": {
            "flagged_rows": int(flagged.shape[0]),
            "tree_shap_s": round(shap_s, 3),
            "path_s": round(path_s, 3),
            "top_code_agreement": None if agreement is None else round(agreement, 3),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scoring", description=__doc__)
    parser.add_argument("--json", type=Path, help="write the figures here as well")
    args = parser.parse_args(argv)
    figures = measure()
    text = json.dumps(figures, indent=2)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
