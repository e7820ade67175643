"""Online features for the fraud model: the trailing windows declared once in
warehouse/dbt_project.yml (read by dbt and here), and an in-memory store computing, for a payment,
the row feat_payment_fraud would hold for it."""

from ml.features.declaration import WindowFeature, load_window_features, parse_window_features
from ml.features.errors import FeatureDeclarationError, SnapshotError
from ml.features.events import PaymentEvent
from ml.features.store import OnlineFeatureStore

__all__ = [
    "FeatureDeclarationError",
    "OnlineFeatureStore",
    "PaymentEvent",
    "SnapshotError",
    "WindowFeature",
    "load_window_features",
    "parse_window_features",
]
