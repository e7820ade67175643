"""LightGBM on a dask.distributed cluster (`lightgbm.engine: dask`): where it stops, how good it is
next to one process, and that it repeats byte for byte."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import duckdb
import lightgbm as lgb
import numpy as np
import polars as pl
import pytest

from ml import registry
from ml.dataset import LabelledData, Window, load_labelled, resolve_cutoff
from ml.errors import SpecError
from ml.scoring import partitioned
from ml.scoring.batch import score
from ml.specs import SPEC_DIR, FeatureSpec, ModelSpec, load_spec
from ml.training import run as training_run
from ml.training.distributed import early_stopped_iteration, stopping_metric, without_network
from ml.training.fit import fit, lightgbm_params
from tests.trained import TrainedWarehouse


def with_lightgbm(spec: ModelSpec, **changes) -> ModelSpec:
    return replace(spec, lightgbm=replace(spec.lightgbm, **changes))


def synthetic(task: str, rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(rows, 4))
    signal = features[:, 0] - 0.5 * features[:, 1] * features[:, 2]
    if task == "binary":
        return features, (signal + rng.normal(scale=1.5, size=rows) > 2.0).astype(float)
    return features, rng.poisson(np.exp(0.5 * signal + 1.0)).astype(float)


@pytest.mark.parametrize(
    ("model", "params"),
    [
        ("payment_fraud", {"metric": "average_precision", "learning_rate": 0.2}),
        ("payment_fraud", {"learning_rate": 0.2}),  # binary_logloss, LightGBM's default
        ("daily_demand", {"objective": "poisson", "metric": "poisson", "learning_rate": 0.2}),
        ("daily_demand", {"learning_rate": 0.2, "num_leaves": 15}),  # l2, the default
    ],
)
def test_the_early_stopped_iteration_is_where_lightgbm_stops(model: str, params: dict) -> None:
    spec = with_lightgbm(load_spec(SPEC_DIR / f"{model}.yml"), params=params, early_stopping_rounds=10)
    train_x, train_y = synthetic(spec.task, 2000, seed=1)
    valid_x, valid_y = synthetic(spec.task, 700, seed=2)
    settings = {**lightgbm_params(spec), "feature_pre_filter": False}
    stopped = lgb.train(
        settings,
        lgb.Dataset(train_x, train_y),
        num_boost_round=200,
        valid_sets=[lgb.Dataset(valid_x, valid_y)],
        callbacks=[lgb.early_stopping(10, verbose=False)],
    )
    full = lgb.train(settings, lgb.Dataset(train_x, train_y), num_boost_round=200)
    assert 1 < stopped.best_iteration < 200  # it did stop early: the comparison means something
    assert early_stopped_iteration(spec, full, valid_x, valid_y) == stopped.best_iteration


def test_a_metric_the_driver_cannot_compute_is_refused_before_a_cluster_starts() -> None:
    spec = with_lightgbm(load_spec(SPEC_DIR / "payment_fraud.yml"), params={"metric": "map"}, engine="dask")
    with pytest.raises(SpecError, match=r"lightgbm.params.metric: 'map'"):
        stopping_metric(spec)


def test_the_cluster_ports_are_not_part_of_the_model() -> None:
    text = "[num_machines: 2]\n[local_listen_port: 40129]\n[machines: 127.0.0.1:40129,127.0.0.1:34821]\n"
    assert without_network(text) == "[num_machines: 2]\n[local_listen_port: ]\n[machines: ]\n"


def tiny_labelled(rows: int = 12_000) -> LabelledData:
    """A synthetic labelled frame: four numeric features, one categorical, train and validation."""
    rng = np.random.default_rng(5)
    features, labels = synthetic("binary", rows, seed=5)
    frame = pl.DataFrame({f"f{i}": features[:, i] for i in range(4)}).with_columns(
        c0=pl.Series(rng.choice(["a", "b", "c"], rows)),
        _label=pl.Series(labels),
        _split=pl.Series(np.where(np.arange(rows) < rows * 3 // 4, "train", "validation")),
    )
    moment = datetime(2025, 1, 1)
    return LabelledData(frame=frame, window=Window(moment, moment, moment, moment, None))


@pytest.mark.dask
def test_two_dask_trainings_give_the_same_model_bytes() -> None:
    spec = with_lightgbm(load_spec(SPEC_DIR / "payment_fraud.yml"), engine="dask", num_boost_round=60)
    spec = replace(spec, features=FeatureSpec(numeric=("f0", "f1", "f2", "f3"), categorical=("c0",)))
    data = tiny_labelled()
    # before the workers' ranks were pinned, one run in two trained a different model
    first, second = fit(spec, data), fit(spec, data)
    assert first.booster.model_to_string() == second.booster.model_to_string()
    assert "[machines: ]" in first.booster.model_to_string()  # no ports of this run in the bytes


@pytest.mark.slow
@pytest.mark.dask
@pytest.mark.quality
def test_dask_training_is_as_good_as_one_process(trained_warehouse: TrainedWarehouse) -> None:
    spec = with_lightgbm(load_spec(SPEC_DIR / "payment_fraud.yml"), engine="dask")
    with duckdb.connect(str(trained_warehouse.env.database), read_only=True) as con:
        data = load_labelled(con, spec, resolve_cutoff(con, spec, None))
        one_process = registry.get_version(con, spec.name, 1).metrics["test"]
    trained = fit(spec, data)
    # the workers stopped together, early: well before the spec's num_boost_round
    assert trained.best_iteration + spec.lightgbm.early_stopping_rounds < spec.lightgbm.num_boost_round
    metrics, _, _ = training_run.test_metrics(trained, data)
    # no worse than one process by more than 0.005 (better is allowed: five seeds of one process
    # spread over 0.010 of test AUC-PR on this world)
    assert metrics["auc_pr"] >= one_process["auc_pr"] - 0.005


SCORES = (
    "select payment_id, fraud_score, is_flagged, reason_codes, model_version from ml.payment_fraud_scores"
)


@pytest.mark.slow
@pytest.mark.dask
def test_scoring_by_partition_on_dask_equals_a_local_pass(
    trained_warehouse: TrainedWarehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the fixture scored every day in one process with LightGBM; here the compiled forest scores the
    # last landing day again part by part on two workers, in one transaction
    env = trained_warehouse.copy_to(tmp_path)
    spec = with_lightgbm(load_spec(SPEC_DIR / "payment_fraud.yml"), engine="dask")
    monkeypatch.setenv("ML_COMPILED_SCORING", "always")
    monkeypatch.setattr(partitioned, "PART_ROWS", 300)
    with duckdb.connect(str(env.database)) as con:
        (day,) = con.sql("select max(loaded_on) from features.feat_payment_fraud").fetchone()
        day_scores = f"{SCORES} where loaded_on = '{day}' order by payment_id"
        local = con.sql(day_scores).fetchall()
        result = score(con, spec, env.models_dir, datetime(2030, 1, 1), days=(day, day))
        on_dask = con.sql(day_scores).fetchall()
    assert result.engine == "lleaves" and len(local) > 3 * 300
    assert [row[0] for row in on_dask] == [row[0] for row in local]
    assert max(abs(a[1] - b[1]) for a, b in zip(on_dask, local, strict=True)) <= 1e-9
    assert [row[2:] for row in on_dask] == [row[2:] for row in local]  # flags, reasons, version
