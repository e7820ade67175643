"""One training run of one spec: data -> model -> metrics -> artifact -> registry -> gate -> alias."""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np

from ml import registry, segments
from ml.artifacts import REFERENCE_FILE, load_artifact, sweep_orphans, write_artifact
from ml.dataset import LabelledData, load_labelled, resolve_cutoff, to_matrix
from ml.duckdb_limits import release_cache
from ml.errors import ModelNotFoundError
from ml.model import TrainedModel
from ml.monitoring.reference import build_reference
from ml.segments import Disparity
from ml.specs import ModelSpec
from ml.training.fit import fit, model_columns
from ml.training.gates import GateResult, evaluate_gates
from ml.training.metrics import binary_metrics, regression_metrics
from ml.training.report import (
    binary_plots,
    comparison_plots,
    importance_plot,
    model_card,
    regression_plots,
    training_report,
)
from ml.write_failures import database_file, reported
from ml.write_points import reached


@dataclass(frozen=True)
class TrainingResult:
    model_name: str
    version: int
    promoted: bool
    gate: GateResult
    metrics: dict
    artifact_path: Path
    training_cutoff: datetime
    rows: dict[str, int]
    retrained: bool = True  # False: an earlier version had the same spec, rows and code (kept as is)


def code_version() -> str:
    """The git commit of the code that trained (the full hash: a short one can be twelve digits, which
    reads as a phone number to the published file's PII scan); with uncommitted changes to tracked
    files, `-dirty-` and a digest of those changes, so two different working trees never share a
    code version."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        changes = subprocess.run(
            ["git", "diff", "HEAD", "--no-ext-diff"], capture_output=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + (f"-dirty-{hashlib.sha256(changes).hexdigest()[:12]}" if changes else "")


def split_rows(data: LabelledData) -> dict[str, int]:
    return {split: data.part(split).height for split in ("train", "validation", "test")}


def unchanged(
    con: duckdb.DuckDBPyConnection, spec: ModelSpec, data: LabelledData, models_dir: Path
) -> TrainingResult | None:
    """The registered version trained from the same spec, rows and code, as this run's result (None
    when there is none, or when the code version is unknown)."""
    code = code_version()
    version = (
        None
        if code == "unknown"
        else registry.same_inputs_version(con, spec.name, spec.spec_hash, data.fingerprint, code)
    )
    if version is None:
        return None
    registered = registry.get_version(con, spec.name, version)
    promoted = registry.alias_version(con, spec.name, "champion") == version
    verdict = "champion" if promoted else "not the champion"
    reason = f"not retrained: v{version} ({verdict}) was trained from the same spec, rows and code"
    return TrainingResult(
        model_name=spec.name,
        version=version,
        promoted=promoted,
        gate=GateResult(passed=promoted, reasons=(reason,)),
        metrics=registered.metrics,
        artifact_path=registered.artifact_dir(models_dir),
        training_cutoff=registered.training_cutoff,
        rows=split_rows(data),
        retrained=False,
    )


def predict_split(model: TrainedModel, data: LabelledData, split: str) -> tuple[np.ndarray, np.ndarray]:
    part = model.codebook.encode(data.part(split, model_columns(model.spec)))
    return part["_label"].to_numpy(), model.predict_frame_matrix(to_matrix(part, model.spec.features.names))


def test_metrics(model: TrainedModel, data: LabelledData) -> tuple[dict, np.ndarray, np.ndarray]:
    labels, scores = predict_split(model, data, "test")
    if model.spec.task == "binary":
        metrics = binary_metrics(labels, scores, model.threshold)
    else:
        metrics = regression_metrics(labels, scores)
    return metrics, labels, scores


def _champion_metrics(
    con: duckdb.DuckDBPyConnection, spec: ModelSpec, data: LabelledData, models_dir: Path
) -> tuple[int, dict, Disparity | None, np.ndarray | None] | None:
    """The champion re-evaluated on the candidate's test rows, with its worst disparity across the
    spec's segments and its scores there (None when there is no champion)."""
    try:
        champion = registry.resolve(con, spec.name)
    except ModelNotFoundError:
        return None
    model = load_artifact(champion.artifact_dir(models_dir), champion.artifact_hash)
    missing = set(model.spec.features.names) - set(data.frame.columns)
    if missing:
        # The spec changed its features: compare with what the champion scored on its own window.
        return champion.version, champion.metrics["test"], None, None
    metrics, labels, scores = test_metrics(model, data)
    _, disparity = segments.measure(spec, data.part("test"), labels, scores, model.threshold)
    return champion.version, metrics, disparity, scores


def run_training(
    con: duckdb.DuckDBPyConnection,
    spec: ModelSpec,
    models_dir: Path,
    now: datetime,
    as_of: datetime | None = None,
    trigger: str | None = None,
    force: bool = False,
    cluster: str | None = None,
) -> TrainingResult:
    """Train, register and gate one model; `as_of` replays a training run as of an earlier time,
    and `trigger` (why it was retrained) is kept in the alias history next to the gate's verdict.
    Nothing is trained when a registered version has the same spec, training rows and code (unless
    `force`): that version is the result, so the registry does not grow by identical versions; a
    retraining requested for a reason records it in the alias history as `kept`. `cluster`: the
    dask.distributed scheduler a spec with `lightgbm.engine: dask` trains on (None: a local one)."""
    registry.ensure_schema(con)
    cutoff = resolve_cutoff(con, spec, as_of)
    data = load_labelled(con, spec, cutoff)
    release_cache(con)  # the scan's blocks are not needed again; LightGBM's matrices come next
    same = None if force else unchanged(con, spec, data, models_dir)
    if same is not None:
        if trigger is not None:
            alias = "champion" if same.promoted else "challenger"
            reason = f"{same.gate.summary} (retrained: {trigger})"
            registry.record_alias(con, spec.name, alias, same.version, "kept", reason, now)
        return same
    model = fit(spec, data, cluster)
    metrics: dict = {}
    metrics["test"], labels, scores = test_metrics(model, data)
    test = data.part("test")
    if spec.baseline_column:
        baseline = test["_baseline"].fill_null(0).to_numpy()
        metrics["baseline"] = regression_metrics(labels, baseline)
    segment_rows, disparity = segments.measure(spec, test, labels, scores, model.threshold)
    champion = _champion_metrics(con, spec, data, models_dir)
    champion_disparity = None
    if champion is not None:
        metrics["champion"] = champion[1]
        metrics["champion_version"] = champion[0]
        champion_disparity = champion[2]
    if disparity is not None:
        metrics["fairness"] = {
            "worst_disparity": disparity.value,
            "worst_segment": f"{disparity.column}={disparity.segment}",
            "worst_metric": disparity.metric,
            **({"champion_worst_disparity": champion_disparity.value} if champion_disparity else {}),
        }

    # the drift reference (ml/monitoring): the out-of-time test rows, the latest labelled data the
    # model was not fitted on, and the model's output on them
    reference = build_reference(
        test, spec.features.numeric, spec.features.categorical, scores, spec.monitoring.bins
    )

    plots = {"feature_importance.png": importance_plot(model)}
    if spec.task == "binary":
        plots.update(binary_plots(labels, scores))
        if champion is not None and champion[3] is not None:
            plots.update(comparison_plots(labels, scores, champion[3], champion[0]))
    else:
        days = test["_event_time"].to_numpy()
        plots.update(
            regression_plots(
                days, labels, scores, test["_baseline"].to_numpy() if spec.baseline_column else None
            )
        )

    rows = split_rows(data)
    version = registry.next_version(con, spec.name)
    facts = {
        "training cutoff": cutoff,
        "matured until": data.window.matured_until,
        "train window": f"{data.part('train')['_event_time'].min()} .. {data.window.validation_start}",
        "validation window": f"{data.window.validation_start} .. {data.window.test_start}",
        "test window": f"{data.window.test_start} .. {data.window.matured_until}",
        "rows": rows,
        "data fingerprint": data.fingerprint,
        "best iteration": model.best_iteration,
        "operating threshold": model.threshold,
    }
    card = model_card(model, version, facts, metrics, sorted(plots), segment_rows)
    extra: dict[str, bytes | str] = {
        "card.md": card,
        "report.html": training_report(model, version, facts, metrics, plots, segment_rows),
        REFERENCE_FILE: json.dumps(reference.to_json(), sort_keys=True, indent=1),
        **{f"plots/{name}": png for name, png in plots.items()},
    }
    sweep_orphans(models_dir / spec.name, registry.versions(con, spec.name))
    reached("train:before_artifact")
    with reported(f"training {spec.name}: writing version {version}'s artifact", models_dir / spec.name):
        artifact = write_artifact(models_dir, model, version, metrics, data.fingerprint, extra)
    reached("train:after_artifact")

    gate = evaluate_gates(spec, metrics["test"], metrics.get("champion"), disparity, champion_disparity)
    registering = reported(f"training {spec.name}: registering version {version}", database_file(con))
    with registering, _transaction(con):
        registry.register(
            con,
            {
                "model_name": spec.name,
                "version": version,
                "trained_at": now,
                "train_start": data.part("train")["_event_time"].min(),
                "training_cutoff": cutoff,
                "train_rows": rows["train"],
                "validation_rows": rows["validation"],
                "test_rows": rows["test"],
                "data_fingerprint": data.fingerprint,
                "code_version": code_version(),
                "spec_hash": spec.spec_hash,
                "feature_signature": {name: str(data.frame.schema[name]) for name in spec.features.names},
                "parameters": {"lightgbm": spec.lightgbm.params, "best_iteration": model.best_iteration},
                "metrics": metrics,
                "artifact_path": artifact.path.relative_to(models_dir).as_posix(),
                "artifact_hash": artifact.hash,
            },
        )
        segments.store(con, spec.name, version, "test", segment_rows, now)
        reason = gate.summary if trigger is None else f"{gate.summary} (retrained: {trigger})"
        if gate.passed:
            registry.record_alias(con, spec.name, "champion", version, "set", reason, now)
        else:
            registry.record_alias(con, spec.name, "challenger", version, "set", reason, now)
            registry.record_alias(con, spec.name, "champion", version, "refused", reason, now)
        reached("train:before_commit")
    return TrainingResult(spec.name, version, gate.passed, gate, metrics, artifact.path, cutoff, rows)


@contextmanager
def _transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """The registry row and the alias change commit together, or not at all."""
    con.execute("begin transaction")
    try:
        yield
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")
