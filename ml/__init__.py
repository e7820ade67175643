"""The ML layer: declarative LightGBM models trained on dbt feature tables.

A model is a YAML spec in `ml/models/` over a dbt feature relation; nothing here knows what a model
predicts. The public surface:
"""

from ml.errors import ArtifactError, FeatureRelationError, ModelNotFoundError, SpecError
from ml.score import ScoringResult, score
from ml.specs import ModelSpec, load_spec, load_specs, parse_spec
from ml.training_run import TrainingResult, run_training

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
