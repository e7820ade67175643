"""The champion of the published snapshot, loaded from MODELS_DIR and, when it agrees with
LightGBM, compiled (ml/scoring/compiled.py): one row through LightGBM's predict costs ~60 us of call
overhead, through the compiled forest ~6 us."""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ml.artifacts import load_artifact
from ml.errors import ArtifactError
from ml.model import Predictor, TrainedModel
from ml.registry import RegisteredVersion
from ml.scoring.attribution import PathAttribution
from ml.scoring.compiled import LightGBMPredictor, choose
from ml.specs import ModelSpec

# A server scores rows without end: in ML_COMPILED_SCORING=auto mode compiling always pays off
# (`never` still keeps LightGBM).
SERVING_ROWS = sys.maxsize
PREDICT_THREADS = 1  # a request's few rows: starting threads would cost more than they save


@dataclass(frozen=True)
class SingleThreadLightGBM(LightGBMPredictor):
    """LightGBM on one thread: with its default (every core) one row takes 0.6 ms idle and several
    ms on a busy machine; on one thread ~0.1 ms."""

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        return self.booster.predict(matrix, raw_score=self.raw_score, num_threads=PREDICT_THREADS)


@dataclass(frozen=True)
class Champion:
    registered: RegisteredVersion
    model: TrainedModel
    artifact_dir: Path
    attribution: PathAttribution | None  # path attribution if the current spec says so, else TreeSHAP

    @property
    def engine(self) -> str:
        return self.model.predictor.engine if self.model.predictor is not None else "lightgbm"


def load_champion(registered: RegisteredVersion, models_dir: Path, current_spec: ModelSpec) -> Champion:
    """The registered version's artifact, from `<models_dir>/<model>/<version>/`, checked against
    the registry's hash. As in batch scoring, the model's own spec gives the features and the
    current spec says how reason codes are computed."""
    artifact_dir = registered.artifact_dir(models_dir)
    model = load_artifact(artifact_dir, registered.artifact_hash)
    if model.threshold is None:
        raise ArtifactError(f"{artifact_dir}: the model has no operating threshold to decide on")
    path = current_spec.reason_method == "path"
    attribution = PathAttribution.from_booster(model.booster) if path else None
    return Champion(registered, model, artifact_dir, attribution)


def compiled(champion: Champion, probe: np.ndarray, cache_dir: Path) -> Champion:
    """The champion predicting with its compiled forest if that agrees with LightGBM within 1e-9 on
    the probe rows (encoded features of real payments); otherwise with LightGBM on one thread.
    Without probe rows nothing can be checked, so LightGBM it is."""
    model = champion.model
    reference = SingleThreadLightGBM(model.booster, raw_score=model.spec.task == "binary")
    predictor: Predictor = reference
    if probe.shape[0]:
        model_file = champion.artifact_dir / "model.txt"
        predictor = choose(reference, model_file, cache_dir, probe, PREDICT_THREADS, SERVING_ROWS)
    return replace(champion, model=replace(model, predictor=predictor))
