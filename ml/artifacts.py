"""Model artifacts on disk: `<models_dir>/<model>/<version>/`.

A version directory is written in a temporary sibling and renamed into place, so a crash never
leaves a half-written version. It holds the LightGBM text model, the spec as used, the metrics, a
manifest (format version, spec hash, data fingerprint, library versions, code book, calibration,
threshold) and the model card. Loading checks the format version and the artifact hash.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from importlib.metadata import version as package_version
from pathlib import Path

import lightgbm as lgb
import yaml

from ml.encoding import CodeBook
from ml.errors import ArtifactError
from ml.model import Calibration, TrainedModel
from ml.specs import ModelSpec, parse_spec

FORMAT_VERSION = 1
HASHED_FILES = ("model.txt", "manifest.json", "spec.yml")
# What monitoring compares every scored window with (ml/monitoring/reference.py), written by training.
REFERENCE_FILE = "drift_reference.json"
LEGACY_REFERENCE_FILE = "baseline.json"  # its name until the drift reference was renamed
LIBRARIES = ("lightgbm", "numpy", "polars", "duckdb")


def library_versions() -> dict[str, str]:
    return {name: package_version(name) for name in LIBRARIES}


def artifact_hash(directory: Path) -> str:
    digest = hashlib.sha256()
    for name in HASHED_FILES:
        digest.update(name.encode())
        digest.update((directory / name).read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class WrittenArtifact:
    path: Path
    hash: str


def write_artifact(
    models_dir: Path,
    model: TrainedModel,
    version: int,
    metrics: dict,
    data_fingerprint: str,
    extra_files: dict[str, bytes | str],
) -> WrittenArtifact:
    """Write every file of a version, then move the directory into place in one rename."""
    spec = model.spec
    final = models_dir / spec.name / str(version)
    if final.exists():
        raise ArtifactError(f"{final} already exists; versions are never overwritten")
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=final.parent))
    try:
        (staging / "model.txt").write_text(model.booster.model_to_string())
        (staging / "spec.yml").write_text(yaml.safe_dump(spec.raw, sort_keys=False))
        manifest = {
            "format_version": FORMAT_VERSION,
            "model_name": spec.name,
            "version": version,
            "task": spec.task,
            "spec_hash": spec.spec_hash,
            "data_fingerprint": data_fingerprint,
            "libraries": library_versions(),
            "features": list(spec.features.names),
            "categorical_features": list(spec.features.categorical),
            "code_book": model.codebook.to_json(),
            "calibration": None
            if model.calibration is None
            else {"slope": model.calibration.slope, "intercept": model.calibration.intercept},
            "threshold": model.threshold,
            "best_iteration": model.best_iteration,
        }
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
        (staging / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True, default=str))
        for name, content in extra_files.items():
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)
        digest = artifact_hash(staging)
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return WrittenArtifact(final, digest)


def sweep_orphans(model_dir: Path, registered: set[int]) -> list[Path]:
    """Remove what a crashed training left behind: staging directories (`.<version>-*`) and version
    directories the registry never recorded (the crash came between the rename and the registry
    commit). Only runs under the warehouse lock, so no other trainer is writing here."""
    removed = []
    if not model_dir.is_dir():
        return removed
    for entry in sorted(model_dir.iterdir()):
        orphan_version = entry.name.isdigit() and int(entry.name) not in registered
        if entry.is_dir() and (entry.name.startswith(".") or orphan_version):
            shutil.rmtree(entry)
            removed.append(entry)
    return removed


def load_artifact(path: Path, expected_hash: str) -> TrainedModel:
    """Load a version, refusing one whose files changed or whose format this code cannot read."""
    if not path.is_dir():
        raise ArtifactError(f"model artifact {path} is missing")
    actual = artifact_hash(path)
    if actual != expected_hash:
        raise ArtifactError(
            f"model artifact {path} was altered (hash {actual[:12]}, registry {expected_hash[:12]})"
        )
    manifest = json.loads((path / "manifest.json").read_text())
    if manifest["format_version"] != FORMAT_VERSION:
        raise ArtifactError(
            f"{path}: format version {manifest['format_version']}, this code reads {FORMAT_VERSION}"
        )
    trained_with = manifest["libraries"]["lightgbm"].split(".")[0]
    if trained_with != lgb.__version__.split(".")[0]:
        raise ArtifactError(
            f"{path}: trained with LightGBM {manifest['libraries']['lightgbm']}, running {lgb.__version__}"
        )
    # named without .yml: the file-name check applies to spec files, not to the copy kept here
    spec: ModelSpec = parse_spec(yaml.safe_load((path / "spec.yml").read_text()), f"{path}/spec (as trained)")
    calibration = manifest["calibration"]
    return TrainedModel(
        spec=spec,
        booster=lgb.Booster(model_file=str(path / "model.txt")),
        codebook=CodeBook.from_json(manifest["code_book"]),
        calibration=None if calibration is None else Calibration(**calibration),
        threshold=manifest["threshold"],
        best_iteration=manifest["best_iteration"],
    )
