"""Compiled scoring (lleaves) against LightGBM, and path attribution for reason codes.

Small synthetic models, trained here in a second, with categorical features and missing values, so
that every kind of split the fraud and demand models use is compiled and compared."""

from __future__ import annotations

from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest

from ml.scoring import compiled
from ml.scoring.attribution import PathAttribution, top_reasons
from ml.scoring.compiled import TOLERANCE, LightGBMPredictor, choose, compile_model

ROWS = 2_000_000  # a pass large enough to compile under the default policy


def _data(seed: int, rows: int = 4_000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    matrix = rng.normal(size=(rows, 6))
    matrix[:, 5] = rng.integers(0, 12, size=rows)  # a categorical code
    matrix[rng.random(size=rows) < 0.05, 1] = np.nan  # missing values take the default branch
    signal = matrix[:, 0] + 0.5 * np.nan_to_num(matrix[:, 1]) + (matrix[:, 5] % 3 == 0)
    return matrix, signal


def _booster(objective: str, seed: int = 3) -> lgb.Booster:
    matrix, signal = _data(seed)
    label = (signal > 1).astype(float) if objective == "binary" else np.exp(signal / 2)
    params = {"objective": objective, "num_leaves": 15, "seed": seed, "deterministic": True, "verbose": -1}
    dataset = lgb.Dataset(matrix, label=label, categorical_feature=[5])
    return lgb.train(params, dataset, num_boost_round=40)


@pytest.fixture
def model_file(tmp_path: Path):
    def write(objective: str) -> Path:
        path = tmp_path / f"{objective}.txt"
        path.write_text(_booster(objective).model_to_string())
        return path

    return write


@pytest.mark.parametrize(("objective", "raw_score"), [("binary", True), ("poisson", False)])
def test_compiled_forest_agrees_with_lightgbm(model_file, tmp_path: Path, objective: str, raw_score: bool):
    path = model_file(objective)
    reference = LightGBMPredictor(lgb.Booster(model_file=str(path)), raw_score=raw_score)
    forest = compile_model(path, raw_score, tmp_path / "cache", threads=2)
    assert forest is not None and forest.engine == "lleaves"
    matrix, _ = _data(seed=11, rows=20_000)  # rows never seen in training
    expected = reference.predict(matrix)
    assert np.max(np.abs(forest.predict(matrix) - expected)) <= TOLERANCE
    # Fortran-ordered input (what polars hands over) is made contiguous, not misread
    assert np.max(np.abs(forest.predict(np.asfortranarray(matrix)) - expected)) <= TOLERANCE


def test_compiled_object_is_cached_by_model_content(model_file, tmp_path: Path):
    path = model_file("binary")
    cache = tmp_path / "cache"
    first = compile_model(path, True, cache, threads=1)
    objects = list(cache.glob("*.o"))
    assert len(objects) == 1 and not list(cache.glob(".*"))  # no partial file left behind
    stamp = objects[0].stat().st_mtime_ns
    copy = tmp_path / "same-trees.txt"
    copy.write_text(path.read_text())
    second = compile_model(copy, True, cache, threads=1)
    assert list(cache.glob("*.o")) == objects and objects[0].stat().st_mtime_ns == stamp
    matrix, _ = _data(seed=5, rows=1_000)
    assert np.array_equal(first.predict(matrix), second.predict(matrix))
    # the raw margin and the transformed output are different programs: different entries
    compile_model(path, False, cache, threads=1)
    assert len(list(cache.glob("*.o"))) == 2


def test_choose_refuses_a_compiled_forest_that_disagrees(model_file, tmp_path: Path, monkeypatch, caplog):
    path = model_file("binary")
    reference = LightGBMPredictor(lgb.Booster(model_file=str(path)), raw_score=True)
    probe, _ = _data(seed=9, rows=500)
    assert choose(reference, path, tmp_path, probe, threads=1, rows=ROWS).engine == "lleaves"

    class Drifting:
        engine = "lleaves"

        def predict(self, matrix: np.ndarray) -> np.ndarray:
            return reference.predict(matrix) + 1e-6

    monkeypatch.setattr(compiled, "compile_model", lambda *args, **kwargs: Drifting())
    assert choose(reference, path, tmp_path, probe, threads=1, rows=ROWS) is reference
    assert "differs from LightGBM" in caplog.text


def test_compiled_scoring_policy(model_file, tmp_path: Path, monkeypatch):
    path = model_file("binary")
    reference = LightGBMPredictor(lgb.Booster(model_file=str(path)), raw_score=True)
    probe, _ = _data(seed=9, rows=100)
    monkeypatch.setenv("ML_COMPILED_SCORING", "never")
    assert choose(reference, path, tmp_path, probe, threads=1, rows=ROWS) is reference
    assert not list(tmp_path.glob("*.o"))
    monkeypatch.setenv("ML_COMPILED_SCORING", "auto")  # a small pass is not worth a compilation
    assert choose(reference, path, tmp_path, probe, threads=1, rows=999_999) is reference
    monkeypatch.setenv("ML_COMPILE_MIN_ROWS", "1000")
    assert choose(reference, path, tmp_path, probe, threads=1, rows=1_000).engine == "lleaves"
    monkeypatch.setenv("ML_COMPILED_SCORING", "always")
    assert choose(reference, path, tmp_path, probe, threads=1, rows=1).engine == "lleaves"
    monkeypatch.setenv("ML_COMPILED_SCORING", "sometimes")
    with pytest.raises(ValueError, match="ML_COMPILED_SCORING"):
        choose(reference, path, tmp_path, probe, threads=1, rows=ROWS)


def test_path_attribution_sums_to_the_raw_margin():
    booster = _booster("binary")
    matrix, _ = _data(seed=21, rows=3_000)
    attribution = PathAttribution.from_booster(booster)
    contributions = attribution.contributions(booster.predict(matrix, pred_leaf=True))
    margin = booster.predict(matrix, raw_score=True)
    assert np.max(np.abs(contributions.sum(axis=1) + attribution.bias - margin)) <= 1e-9
    # TreeSHAP has the same sum: both split the margin, differently
    shap = booster.predict(matrix, pred_contrib=True)
    assert np.max(np.abs(shap.sum(axis=1) - margin)) <= 1e-9


def test_top_reasons_name_only_features_that_push_the_score_up():
    contributions = np.array([[0.3, -0.2, 0.5, 0.0], [-1.0, -0.1, -0.3, -0.2], [0.1, 0.1, 0.0, 0.2]])
    names = ("a", "b", "c", "d")
    assert top_reasons(contributions, names, 2) == [["c", "a"], [], ["d", "a"]]
