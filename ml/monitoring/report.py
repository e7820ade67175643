"""The HTML report of one monitoring pass, written beside the model version
(`<models>/<model>/<version>/reports/monitoring-<as_of>.html`): the verdicts, each most-drifted
feature's distribution in the latest window against its drift reference, PSI over time, and
matured and estimated performance over time. The model card gets the same (ml/monitoring/card.py)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import polars as pl

from ml import atomic_files
from ml.figures import png
from ml.html_report import Section, page
from ml.monitoring.card import monitoring_markdown, update_card
from ml.monitoring.reference import PREDICTION, DriftReference
from ml.specs import ModelSpec

SHOWN_FEATURES = 6


def _distribution(reference: DriftReference, name: str, values: pl.Series) -> bytes:
    binning = reference.binnings[name]
    expected = np.asarray(binning.reference_counts, dtype=np.float64)
    actual = binning.counts(values).astype(np.float64)
    labels = (
        [*binning.categories, "other"]
        if binning.kind == "categorical"
        else [f"<={e:.3g}" for e in binning.edges] + [f">{binning.edges[-1]:.3g}" if binning.edges else "all"]
    ) + ["missing"]
    x = np.arange(len(labels))
    figure, axis = plt.subplots(figsize=(6, 3))
    axis.bar(x - 0.2, expected / max(expected.sum(), 1), width=0.4, label="reference")
    axis.bar(x + 0.2, actual / max(actual.sum(), 1), width=0.4, label="latest window")
    axis.set_xticks(x, labels, rotation=60, fontsize=7, ha="right")
    axis.set(ylabel="share of rows", title=name)
    axis.legend(fontsize=8)
    return png(figure)


def _psi_over_time(drift: pl.DataFrame, features: list[str]) -> bytes:
    figure, axis = plt.subplots(figsize=(7, 3.5))
    for name in features:
        rows = drift.filter(pl.col("feature") == name).sort("window_start")
        axis.plot(rows["window_start"].to_list(), rows["psi"].to_list(), marker=".", label=name)
    axis.set(ylabel="PSI", title="PSI per scored window")
    axis.legend(fontsize=7)
    figure.autofmt_xdate()
    return png(figure)


def _performance_over_time(spec: ModelSpec, performance: list[dict], estimated: list[dict]) -> bytes:
    metric = "auc_pr" if spec.task == "binary" else "wape"
    figure, axis = plt.subplots(figsize=(7, 3.5))
    matured = [(row["event_date"], row[metric]) for row in performance if row.get(metric) is not None]
    if matured:
        axis.plot(*zip(*matured, strict=True), marker=".", label=f"matured {metric}")
    guessed = [
        (row["event_date"], row["estimated_auc_pr"])
        for row in estimated
        if row.get("estimated_auc_pr") is not None
    ]
    if guessed:
        axis.plot(*zip(*guessed, strict=True), linestyle="--", label="estimated auc_pr (before labels)")
    axis.set(ylabel=metric, title="Performance per event day")
    axis.legend(fontsize=8)
    figure.autofmt_xdate()
    return png(figure)


def monitoring_sections(
    spec: ModelSpec,
    reference: DriftReference | None,
    latest: pl.DataFrame | None,
    drift_rows: list[dict],
    performance_rows: list[dict],
    estimated_rows: list[dict],
    verdicts: list[tuple[str, str, str]],
) -> list[Section]:
    sections = [Section("Verdicts", tables=[(["check", "status", "summary"], [list(v) for v in verdicts])])]
    if drift_rows and reference is not None and latest is not None:
        drift = pl.DataFrame(drift_rows).select("window_start", "feature", "psi", "status")
        last = drift.filter(pl.col("window_start") == drift["window_start"].max())
        shown = (
            last.filter((pl.col("feature") != PREDICTION) & (pl.col("status") != "excluded"))
            .sort(["psi", "feature"], descending=[True, False])
            .head(SHOWN_FEATURES)["feature"]
            .to_list()
        )
        values = {name: latest[name] for name in shown}
        values[PREDICTION] = latest["_score"].rename(PREDICTION)
        sections.append(
            Section(
                "Feature distributions against the drift reference",
                note="The most drifted features of the latest scored window, and the model's output, "
                "binned as the reference was.",
                images=[(name, _distribution(reference, name, series)) for name, series in values.items()],
            )
        )
        sections.append(
            Section("PSI over time", images=[("PSI over time", _psi_over_time(drift, [*shown, PREDICTION]))])
        )
    if performance_rows or estimated_rows:
        sections.append(
            Section(
                "Matured and estimated performance over time",
                images=[("performance", _performance_over_time(spec, performance_rows, estimated_rows))],
            )
        )
    return sections


def write_report(
    models_dir: Path, spec: ModelSpec, version: int, as_of: datetime, sections: list[Section]
) -> Path:
    """The HTML report beside the version, named by its data time (a rerun on the same data
    replaces it), and the same sections as the model card's monitoring section (ml/monitoring/card.py)."""
    title = f"monitoring as of {as_of:%Y-%m-%d %H:%M}"
    facts = {"model": spec.name, "version": version, "data as of": as_of}
    version_dir = models_dir / spec.name / str(version)
    folder = version_dir / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"monitoring-{as_of:%Y%m%dT%H%M%S}.html"
    atomic_files.write_text(path, page(f"{spec.name} v{version}: {title}", facts, sections))
    heading = f"Monitoring (data as of {as_of:%Y-%m-%d %H:%M})"
    update_card(version_dir / "card.md", monitoring_markdown(sections, path, heading))
    return path
