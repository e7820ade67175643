"""Markdown tables for Dagster materialization metadata."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]], right: Sequence[str] = ()) -> str:
    """A table with `header`; the columns named in `right` (numbers) are right-aligned."""
    rule = "|" + "".join("---:|" if name in right else "---|" for name in header)
    lines = ["| " + " | ".join(header) + " |", rule]
    return "\n".join(lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows])
