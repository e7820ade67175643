"""Fitting a LightGBM model from a spec: deterministic, early-stopped on the validation window,
calibrated (binary), with the operating threshold chosen on validation, never on test."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import precision_recall_curve

from ml.dataset import LabelledData, to_matrix
from ml.encoding import CodeBook
from ml.model import Calibration, TrainedModel
from ml.specs import ModelSpec

DEFAULT_OBJECTIVE = {"binary": "binary", "regression": "regression"}


def lightgbm_params(spec: ModelSpec) -> dict:
    """The spec's parameters plus the ones that make training reproducible."""
    return {
        "objective": DEFAULT_OBJECTIVE[spec.task],
        **spec.lightgbm.params,
        "seed": spec.lightgbm.seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": spec.lightgbm.num_threads,
        "verbose": -1,
    }


def model_columns(spec: ModelSpec) -> list[str]:
    """What fitting and evaluating a split reads: the features and the label."""
    return [*spec.features.names, "_label"]


def _dataset(
    spec: ModelSpec, codebook: CodeBook, data: LabelledData, split: str, reference=None
) -> lgb.Dataset:
    """One split binned by LightGBM now, with the parameters training uses: the split's copy and
    its float matrix are freed here, so the next split (and training) never hold them."""
    part = codebook.encode(data.part(split, model_columns(spec)))
    return lgb.Dataset(
        to_matrix(part, spec.features.names),
        label=part["_label"].to_numpy(),
        feature_name=list(spec.features.names),
        categorical_feature=list(spec.features.categorical),
        reference=reference,
        params=lightgbm_params(spec),
        free_raw_data=True,
    ).construct()


def fit_booster(spec: ModelSpec, codebook: CodeBook, data: LabelledData) -> tuple[lgb.Booster, int]:
    """One process: LightGBM's early stopping on the validation window. The booster comes back
    truncated at its best iteration."""
    train_set = _dataset(spec, codebook, data, "train")
    valid_set = _dataset(spec, codebook, data, "validation", reference=train_set)
    booster = lgb.train(
        lightgbm_params(spec),
        train_set,
        num_boost_round=spec.lightgbm.num_boost_round,
        valid_sets=[valid_set],
        valid_names=["validation"],
        callbacks=[lgb.early_stopping(spec.lightgbm.early_stopping_rounds, verbose=False)],
    )
    best = booster.best_iteration or booster.current_iteration()
    # Reload from text so training, evaluation and scoring all use exactly the saved model.
    return lgb.Booster(model_str=booster.model_to_string(num_iteration=best)), best


def fit(spec: ModelSpec, data: LabelledData, cluster: str | None = None) -> TrainedModel:
    """The booster from the spec's engine (`cluster`: a dask.distributed scheduler address for
    `engine: dask`; None starts a local cluster), then the same calibration and threshold."""
    codebook = CodeBook.fit(data.part("train", spec.features.categorical), spec.features.categorical)
    if spec.lightgbm.engine == "dask":
        from ml.training.distributed import fit_booster_on_dask

        final, best = fit_booster_on_dask(spec, codebook, data, cluster)
    else:
        final, best = fit_booster(spec, codebook, data)
    model = TrainedModel(spec, final, codebook, None, None, best)
    if spec.task != "binary":
        return model
    validation = codebook.encode(data.part("validation", model_columns(spec)))
    matrix, labels = to_matrix(validation, spec.features.names), validation["_label"].to_numpy()
    calibration = (
        _platt(final.predict(matrix, raw_score=True), labels) if spec.calibration == "platt" else None
    )
    model = TrainedModel(spec, final, codebook, calibration, None, best)
    threshold = None
    if spec.operating_precision is not None:
        threshold = threshold_for_precision(
            labels, model.predict_frame_matrix(matrix), spec.operating_precision
        )
    return TrainedModel(spec, final, codebook, calibration, threshold, best)


def _platt(margin: np.ndarray, labels: np.ndarray) -> Calibration:
    regression = LogisticRegression(C=1e6, solver="lbfgs", max_iter=1000)
    regression.fit(margin.reshape(-1, 1), labels)
    return Calibration(slope=float(regression.coef_[0][0]), intercept=float(regression.intercept_[0]))


def threshold_for_precision(labels: np.ndarray, scores: np.ndarray, precision_target: float) -> float:
    """The lowest score threshold whose precision reaches the target (most recall); if none does,
    the threshold with the best precision."""
    precision, _, thresholds = precision_recall_curve(labels, scores)
    precision = precision[:-1]  # the last point has no threshold
    meeting = np.flatnonzero(precision >= precision_target)
    index = meeting[0] if meeting.size else int(np.argmax(precision))
    return float(thresholds[index])
