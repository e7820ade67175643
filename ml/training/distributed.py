"""LightGBM beyond one process: a spec's `lightgbm.engine: dask` trains through LightGBM's own Dask
interface (`lightgbm.dask`) on a dask.distributed cluster, data-parallel across its workers.

The training split, encoded with the run's code book, is written as Parquet parts to a folder, and
each worker reads its own parts from there: the driver never ships the training rows to the
workers. With a scheduler address the workers must see that folder (shared storage) and the
scheduler should run without work stealing; without one, a `LocalCluster` of the spec's `workers`
processes (one thread each) is started and closed here.

Reproducible: part i goes to the i-th worker by name, so each worker bins and bags the same rows and
keeps its rank on every run; the ports the workers listened on are taken out of the model text.
Two runs on the same cluster shape give the same model bytes. A different number of workers gives
a different (equally valid) model: distributed LightGBM finds bins on each worker's rows.

LightGBM's own early stopping would judge on each worker's share of the validation rows, so workers
could disagree about when to stop. Instead every worker gets the whole validation window with a
callback (`StopOnValidation`) applying `lgb.early_stopping`'s rule (the first iteration not beaten
within `early_stopping_rounds`) to the same metric: the same model and rows give every worker the
same decision. The driver applies the rule once more to the returned model and truncates it there.
The code book, calibration, threshold, gates, registry and model card are the single-process code.
"""

from __future__ import annotations

import logging
import math
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import lightgbm as lgb
import numpy as np
import polars as pl
from sklearn.metrics import average_precision_score, log_loss, roc_auc_score

from ml.dataset import LabelledData, to_matrix
from ml.encoding import CodeBook
from ml.errors import SpecError
from ml.specs import ModelSpec
from ml.training.fit import lightgbm_params, model_columns

PART_ROWS = 200_000  # training rows per Parquet part (at least one part per worker)
LOG_OBJECTIVES = {"poisson", "tweedie", "gamma"}  # objectives whose prediction is exp(raw score)


def _poisson(labels: np.ndarray, predictions: np.ndarray) -> float:
    """LightGBM's `poisson` metric: the negative log-likelihood without the constant log(y!)."""
    safe = np.maximum(predictions, 1e-10)
    return float(np.mean(safe - labels * np.log(safe)))


# LightGBM metric name: (the same metric on (labels, predictions), higher is better)
METRICS: dict[str, tuple[Callable[[np.ndarray, np.ndarray], float], bool]] = {
    "average_precision": (lambda y, p: float(average_precision_score(y, p)), True),
    "auc": (lambda y, p: float(roc_auc_score(y, p)), True),
    "binary_logloss": (lambda y, p: float(log_loss(y, p, labels=[0, 1])), False),
    "l2": (lambda y, p: float(np.mean((y - p) ** 2)), False),
    "l1": (lambda y, p: float(np.mean(np.abs(y - p))), False),
    "poisson": (_poisson, False),
}
DEFAULT_METRIC = {"binary": "binary_logloss", "regression": "l2"}


def stopping_metric(spec: ModelSpec) -> str:
    """The metric early stopping watches: the spec's `metric` (its first, if a list) or LightGBM's
    default for the task."""
    metric = spec.lightgbm.params.get("metric", DEFAULT_METRIC[spec.task])
    name = metric[0] if isinstance(metric, list) else metric
    if name not in METRICS:
        raise SpecError(
            f"{spec.source_path}: lightgbm.params.metric: {name!r} cannot stop a dask-trained model "
            f"early; use one of {sorted(METRICS)}"
        )
    return name


def dask_params(spec: ModelSpec) -> dict:
    """The single-process parameters; lightgbm.dask sets the threads from each worker's own."""
    return {key: value for key, value in lightgbm_params(spec).items() if key != "num_threads"}


# The cluster's network as the booster records it among its parameters: random ports on each run.
NETWORK_PARAMETERS = re.compile(r"^\[(machines|local_listen_port): [^\]]*\]$", re.MULTILINE)


def without_network(model: str) -> str:
    """The model text without the ports the workers happened to listen on, so two runs on the same
    cluster shape give the same bytes (the trees never depend on them)."""
    return NETWORK_PARAMETERS.sub(lambda match: f"[{match.group(1)}: ]", model)


def write_parts(frame: pl.DataFrame, folder: Path, workers: int) -> dict[Path, int]:
    """The frame as Parquet parts of at most PART_ROWS rows, at least one per worker: each part's
    path and row count. Rows are dealt out in turn (part k holds rows k, k + n, k + 2n, ...), not
    cut into runs: the frame is ordered by key, and a worker holding only some stores would find
    the bins (and the categories) of its features on those stores alone."""
    count = max(workers, math.ceil(frame.height / PART_ROWS))
    parts = {}
    for index in range(count):
        path = folder / f"part-{index:05d}.parquet"
        part = frame.gather_every(count, offset=index)
        part.write_parquet(path)
        parts[path] = part.height
    return parts


def _ordered_client_class() -> type:
    from dask.distributed import Client

    class PartOrderedClient(Client):
        """A client whose `who_has` lists the futures in the order it was asked about them.
        lightgbm.dask ranks the workers in the order `who_has` names the training parts, which the
        scheduler does not keep; in part order, the worker holding part 0 is rank 0 on every run."""

        def who_has(self, futures=None, **kwargs):
            found = dict(super().who_has(futures, **kwargs))
            if futures is None:
                return found
            keys = [getattr(future, "key", future) for future in futures]
            return {key: found[key] for key in keys if key in found}

    return PartOrderedClient


@contextmanager
def dask_client(address: str | None, workers: int) -> Iterator:
    """A client of the cluster at `address`, or of a local cluster started (and closed) here."""
    import dask
    from dask.distributed import LocalCluster

    client_class = _ordered_client_class()
    if address:
        with client_class(address) as client:
            yield client
        return
    # no work stealing: a part stays on the worker it was placed on (see _placed_parts)
    with (
        dask.config.set({"distributed.scheduler.work-stealing": False}),
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        client_class(cluster) as client,
    ):
        yield client


def workers_by_name(client) -> list[str]:
    """The cluster's worker addresses ordered by worker name (stable across runs; ports are not)."""
    workers = client.scheduler_info()["workers"]
    return sorted(workers, key=lambda address: str(workers[address]["name"]))


def _features(path: str, names: list[str]) -> np.ndarray:
    return to_matrix(pl.read_parquet(path, columns=names), tuple(names))


def _labels(path: str) -> np.ndarray:
    return pl.read_parquet(path, columns=["_label"])["_label"].to_numpy()


def _placed_parts(parts: dict[Path, int], names: list[str], client) -> tuple:
    """The parts as dask arrays, part i read by the i-th worker (by name, round robin) and kept
    there. Distributed LightGBM bins features and bags rows on each worker's own rows, and a worker's
    rank follows the order of the parts it holds: the same placement gives the same model bytes."""
    import dask.array as da
    from dask import delayed

    workers = workers_by_name(client)
    features, labels = [], []
    for index, (path, rows) in enumerate(parts.items()):
        worker = [workers[index % len(workers)]]
        pinned = {"workers": worker, "allow_other_workers": False, "pure": False}
        matrix = client.submit(_features, str(path), names, **pinned)
        label = client.submit(_labels, str(path), **pinned)
        features.append(da.from_delayed(delayed(matrix), shape=(rows, len(names)), dtype=np.float64))
        labels.append(da.from_delayed(delayed(label), shape=(rows,), dtype=np.float64))
    return da.concatenate(features), da.concatenate(labels)


def _train_on_dask(
    spec: ModelSpec, parts: dict[Path, int], client, stopping: StopOnValidation
) -> lgb.Booster:
    from lightgbm.dask import DaskLGBMClassifier, DaskLGBMRegressor

    names = list(spec.features.names)
    features, labels = _placed_parts(parts, names, client)
    estimator_class = DaskLGBMClassifier if spec.task == "binary" else DaskLGBMRegressor
    estimator = estimator_class(
        client=client, n_estimators=spec.lightgbm.num_boost_round, **dask_params(spec)
    )
    estimator.fit(
        features,
        labels,
        feature_name=names,
        categorical_feature=list(spec.features.categorical),
        callbacks=[stopping],
    )
    return estimator.booster_


def _transform(spec: ModelSpec, raw: np.ndarray) -> np.ndarray:
    if spec.task == "binary":
        return 1.0 / (1.0 + np.exp(-raw))
    if spec.lightgbm.params.get("objective") in LOG_OBJECTIVES:
        return np.exp(raw)
    return raw


class StoppingRule:
    """`lgb.early_stopping`'s rule on the whole validation window: fed one iteration's raw output at
    a time, it keeps the best iteration and says when `early_stopping_rounds` passed without a
    strictly better one."""

    def __init__(self, spec: ModelSpec, labels: np.ndarray) -> None:
        self.spec, self.labels = spec, labels
        self.metric, self.higher_is_better = METRICS[stopping_metric(spec)]
        self.raw = np.zeros(labels.shape[0])
        self.index, self.best_index, self.best_score = -1, 0, None

    @property
    def best_iteration(self) -> int:
        return self.best_index + 1

    def step(self, tree_output: np.ndarray) -> bool:
        """Add the next iteration's raw output; True once training should stop."""
        self.index += 1
        self.raw += tree_output
        score = self.metric(self.labels, _transform(self.spec, self.raw))
        if self.best_score is None or (
            score > self.best_score if self.higher_is_better else score < self.best_score
        ):
            self.best_index, self.best_score = self.index, score
            return False
        return self.index - self.best_index >= self.spec.lightgbm.early_stopping_rounds


class StopOnValidation:
    """A training callback every worker runs on the same whole validation window: the same model
    and the same rows give every worker the same decision, so they all stop at the same iteration
    instead of training `num_boost_round` trees that would be cut off afterwards."""

    def __init__(self, spec: ModelSpec, matrix: np.ndarray, labels: np.ndarray) -> None:
        self.spec, self.matrix, self.labels = spec, matrix, labels
        self.rule: StoppingRule | None = None

    def __call__(self, env: lgb.callback.CallbackEnv) -> None:
        if self.rule is None or env.iteration == env.begin_iteration:
            self.rule = StoppingRule(self.spec, self.labels)
        tree = env.model.predict(self.matrix, start_iteration=env.iteration, num_iteration=1, raw_score=True)
        if self.rule.step(tree):
            name = stopping_metric(self.spec)
            score = ("validation", name, self.rule.best_score, self.rule.higher_is_better)
            raise lgb.callback.EarlyStopException(self.rule.best_index, [score])


def early_stopped_iteration(
    spec: ModelSpec, booster: lgb.Booster, matrix: np.ndarray, labels: np.ndarray
) -> int:
    """Where `lgb.early_stopping(spec's rounds)` would have stopped on this validation window: the
    iteration (1-based) whose metric no later one beat (strictly) within the patience."""
    rule = StoppingRule(spec, labels)
    for index in range(booster.current_iteration()):
        if rule.step(booster.predict(matrix, start_iteration=index, num_iteration=1, raw_score=True)):
            break
    return rule.best_iteration


def fit_booster_on_dask(
    spec: ModelSpec, codebook: CodeBook, data: LabelledData, address: str | None
) -> tuple[lgb.Booster, int]:
    """Train on the cluster from Parquet parts; truncate at the early-stopped iteration."""
    stopping_metric(spec)  # refuse an unsupported metric before a cluster starts
    columns = model_columns(spec)
    validation = codebook.encode(data.part("validation", columns))
    matrix, labels = to_matrix(validation, spec.features.names), validation["_label"].to_numpy()
    del validation
    with tempfile.TemporaryDirectory(prefix="ml-dask-") as folder:
        train = codebook.encode(data.part("train", columns))
        parts = write_parts(
            train.cast({name: pl.Float64 for name in columns}), Path(folder), spec.lightgbm.workers
        )
        del train
        with dask_client(address, spec.lightgbm.workers) as client:
            booster = _train_on_dask(spec, parts, client, StopOnValidation(spec, matrix, labels))
    # the workers stopped by the same rule; the driver applies it once more to the model it got
    best = early_stopped_iteration(spec, booster, matrix, labels)
    return lgb.Booster(model_str=without_network(booster.model_to_string(num_iteration=best))), best
