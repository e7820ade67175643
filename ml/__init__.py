"""The ML layer: declarative LightGBM models trained on dbt feature tables.

A model is a YAML spec in `ml/models/` over a dbt feature relation; nothing here knows what a model
predicts. The public surface is below; training and scoring (LightGBM, scikit-learn, matplotlib) are
imported on first use, so reading specs (as the Dagster definitions do) stays fast.
"""

from importlib import import_module
from typing import Any

from ml.errors import ArtifactError, FeatureRelationError, ModelNotFoundError, SpecError
from ml.specs import ModelSpec, load_spec, load_specs, parse_spec

_LAZY = {
    "run_training": "ml.training.run",
    "TrainingResult": "ml.training.run",
    "score": "ml.scoring.batch",
    "ScoringResult": "ml.scoring.batch",
}

__all__ = [
    "ArtifactError",
    "FeatureRelationError",
    "ModelNotFoundError",
    "ModelSpec",
    "ScoringResult",
    "SpecError",
    "TrainingResult",
    "load_spec",
    "load_specs",
    "parse_spec",
    "run_training",
    "score",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ml' has no attribute {name!r}")
