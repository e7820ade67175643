"""The feature store's exceptions: messages name the file, the field and the offending value."""

from __future__ import annotations


class FeatureDeclarationError(ValueError):
    """The window declaration in dbt_project.yml, or the spec's use of it, is malformed."""


class SnapshotError(ValueError):
    """The published snapshot lacks what the store reads, or disagrees with the repository."""
