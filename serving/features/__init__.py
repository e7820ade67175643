"""Online features for the fraud model: the trailing windows declared once in
warehouse/dbt_project.yml (read by dbt and here), and an in-memory store computing, for a payment,
the row feat_payment_fraud would hold for it."""

from serving.features.declaration import WindowFeature, load_window_features, parse_window_features
from serving.features.errors import FeatureDeclarationError, SnapshotError
from serving.features.events import PaymentEvent
from serving.features.store import OnlineFeatureStore

__all__ = [
    "FeatureDeclarationError",
    "OnlineFeatureStore",
    "PaymentEvent",
    "SnapshotError",
    "WindowFeature",
    "load_window_features",
    "parse_window_features",
]
