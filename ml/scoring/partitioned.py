"""Batch scoring by partition on a dask.distributed cluster, for a spec trained with
`lightgbm.engine: dask` (ml/training/distributed.py).

The rows to score are written by DuckDB as Parquet parts into a folder under the models directory
(shared storage on a real cluster); part i is scored on the i-th worker, which loads the champion's
artifact (hash-checked) and the compiled forest from the compile cache the driver filled, and
returns the scored rows as an Arrow table. The driver writes the tables in part order inside the
same single transaction as a local pass (ml/scoring/batch.py), so readers never see half a pass.
Scores equal a local pass's within the compiled forest's tolerance (the same predictor code on the
same rows); flags and reason codes are computed by the same function.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from ml.artifacts import load_artifact
from ml.model import TrainedModel
from ml.training.distributed import dask_client, workers_by_name

PART_ROWS = 262_144  # rows per Parquet part (one scoring task each)


@dataclass(frozen=True)
class ScoringPass:
    """What every worker needs to score a part the way the driver would, all picklable."""

    artifact_dir: Path
    artifact_hash: str
    compiled_cache: Path | None  # the compile cache holding the forest the driver chose; None: LightGBM
    version: int
    scored_at: datetime
    path_attribution: bool


@cache
def _worker_model(scoring: ScoringPass) -> tuple[TrainedModel, object]:
    """The champion as this worker scores with it (loaded once per worker process)."""
    from ml.scoring.attribution import PathAttribution
    from ml.scoring.compiled import compile_model

    model = load_artifact(scoring.artifact_dir, scoring.artifact_hash)
    if scoring.compiled_cache is not None:
        raw = model.spec.task == "binary"
        compiled = compile_model(scoring.artifact_dir / "model.txt", raw, scoring.compiled_cache, threads=1)
        if compiled is not None:
            model = replace(model, predictor=compiled)
    attribution = PathAttribution.from_booster(model.booster) if scoring.path_attribution else None
    return model, attribution


def score_part(path: str, scoring: ScoringPass) -> pa.Table:
    """One part scored on a worker: the same `_score_batch` as a local pass."""
    from ml.scoring.batch import _score_batch

    model, attribution = _worker_model(scoring)
    tables = []
    for batch in pq.ParquetFile(path).iter_batches(batch_size=PART_ROWS):
        tables.append(_score_batch(model, batch, scoring.version, scoring.scored_at, attribution))
    return pa.concat_tables(tables)


def write_parts(con: duckdb.DuckDBPyConnection, sql: str, folder: Path) -> list[Path]:
    """The rows of `sql` as Parquet parts of at most PART_ROWS rows, in the query's order."""
    paths = []
    for index, batch in enumerate(con.sql(sql).to_arrow_reader(PART_ROWS)):
        path = folder / f"part-{index:05d}.parquet"
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        frame.write_parquet(path)
        paths.append(path)
    return paths


def scored_parts(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    model: TrainedModel,
    scoring: ScoringPass,
    models_dir: Path,
    address: str | None,
) -> Iterator[pa.Table]:
    """The scored tables of every part, in part order, scored on the cluster."""
    folder = Path(tempfile.mkdtemp(prefix=".scoring-", dir=models_dir))
    try:
        paths = write_parts(con, sql, folder)
        with dask_client(address, model.spec.lightgbm.workers) as client:
            workers = workers_by_name(client)
            futures = [
                client.submit(score_part, str(path), scoring, workers=[worker], pure=False)
                for path, worker in zip(paths, itertools.cycle(workers), strict=False)
            ]
            for future in futures:
                yield future.result()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
