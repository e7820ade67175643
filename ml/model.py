"""A trained model as scoring, serving and reports use it: the booster, its categorical code book,
the calibration and the operating threshold. Training (ml/training/fit.py) makes one; ml/artifacts.py
writes and loads it. Importing this module does not import training or scikit-learn."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import lightgbm as lgb
import numpy as np

from ml.encoding import CodeBook
from ml.specs import ModelSpec


class Predictor(Protocol):
    """The model's output for an encoded float64 feature matrix: the raw margin of a binary model,
    the prediction (objective transform applied) of a regression. LightGBM's booster or the
    compiled forest (ml/scoring/compiled.py)."""

    engine: str

    def predict(self, matrix: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class Calibration:
    """Platt scaling on the raw margin: monotone, so it changes probabilities, not the ranking."""

    slope: float
    intercept: float

    def apply(self, margin: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(self.slope * margin + self.intercept)))


@dataclass(frozen=True)
class TrainedModel:
    spec: ModelSpec
    booster: lgb.Booster  # truncated at the best iteration
    codebook: CodeBook
    calibration: Calibration | None
    threshold: float | None
    best_iteration: int
    # what computes the trees' output: a compiled forest when scoring (ml.scoring.compiled); None: the booster
    predictor: Predictor | None = None

    def model_output(self, matrix: np.ndarray) -> np.ndarray:
        """The raw margin of a binary model, the prediction of a regression."""
        if self.predictor is not None:
            return self.predictor.predict(matrix)
        return self.booster.predict(matrix, raw_score=self.spec.task == "binary")

    def predict_frame_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """Scores for an encoded feature matrix in spec feature order."""
        if self.spec.task == "binary":
            margin = self.model_output(matrix)
            if self.calibration is not None:
                return self.calibration.apply(margin)
            return 1.0 / (1.0 + np.exp(-margin))
        return self.model_output(matrix)
