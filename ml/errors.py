"""The ML package's exceptions: narrow classes whose messages name the file, the field and the value."""

from __future__ import annotations


class SpecError(ValueError):
    """A model spec is malformed: unknown key, missing field, wrong type, unsafe identifier."""


class FeatureRelationError(ValueError):
    """The feature relation does not match the spec (missing column, wrong type, no rows)."""


class ModelNotFoundError(LookupError):
    """No registered version (or alias) matches the request."""


class ArtifactError(RuntimeError):
    """A model artifact is missing, altered, or was written by an incompatible version."""


class WriteFailedError(RuntimeError):
    """A write a step needs failed below the code: a full disk, an I/O error from the device. The
    message names the step, the file and the cause; the step's earlier state is kept."""
