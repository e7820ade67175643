"""The orchestration end-to-end tests reuse the default world the ML tests build (session-scoped)."""

from tests.ml.conftest import trained_warehouse  # noqa: F401  (a fixture, registered by import)
