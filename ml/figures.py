"""Figures as PNG bytes for model cards and reports: matplotlib without a display, and no timestamp
in the file, so the same figure gives the same bytes."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt


def png(figure: plt.Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight", metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()
