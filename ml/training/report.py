"""The model card: a Markdown page and PNG plots written beside each registered version."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import precision_recall_curve, roc_curve

from ml.figures import png
from ml.model import TrainedModel


def importance_plot(model: TrainedModel, top: int = 20) -> bytes:
    gains = model.booster.feature_importance("gain")
    names = model.booster.feature_name()
    order = np.argsort(gains)[::-1][:top][::-1]
    figure, axis = plt.subplots(figsize=(6, 0.3 * len(order) + 1))
    axis.barh([names[i] for i in order], gains[order])
    axis.set_xlabel("total gain")
    axis.set_title("Feature importance")
    return png(figure)


def binary_plots(labels: np.ndarray, scores: np.ndarray) -> dict[str, bytes]:
    precision, recall, _ = precision_recall_curve(labels, scores)
    figure, axis = plt.subplots(figsize=(5, 4))
    axis.plot(recall, precision)
    axis.set(xlabel="recall", ylabel="precision", title="Precision-recall (test window)")
    plots = {"pr_curve.png": png(figure)}
    false_positive, true_positive, _ = roc_curve(labels, scores)
    figure, axis = plt.subplots(figsize=(5, 4))
    axis.plot(false_positive, true_positive)
    axis.plot([0, 1], [0, 1], linestyle=":")
    axis.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (test window)")
    plots["roc_curve.png"] = png(figure)
    predicted, observed, counts = calibration_bins(labels, scores)
    figure, axis = plt.subplots(figsize=(5, 4))
    axis.plot(predicted, observed, marker="o")
    for x, y, n in zip(predicted, observed, counts, strict=True):
        axis.annotate(f"{n:,}", (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7)
    axis.plot([1e-4, 1], [1e-4, 1], linestyle=":")
    axis.set(xscale="log", yscale="log", xlabel="mean predicted probability", ylabel="observed rate")
    axis.set_title("Calibration (test window; rows per bin)")
    plots["calibration.png"] = png(figure)
    return plots


def comparison_plots(
    labels: np.ndarray, candidate: np.ndarray, champion: np.ndarray, champion_version: int
) -> dict[str, bytes]:
    """The candidate against the champion on the same test rows: PR curves and calibration."""
    figure, axis = plt.subplots(figsize=(5, 4))
    for name, scores in (("candidate", candidate), (f"champion v{champion_version}", champion)):
        precision, recall, _ = precision_recall_curve(labels, scores)
        axis.plot(recall, precision, label=name)
    axis.set(xlabel="recall", ylabel="precision", title="Champion and candidate, same rows")
    axis.legend()
    plots = {"champion_vs_candidate_pr.png": png(figure)}
    figure, axis = plt.subplots(figsize=(5, 4))
    for name, scores in (("candidate", candidate), (f"champion v{champion_version}", champion)):
        predicted, observed, _ = calibration_bins(labels, scores)
        axis.plot(predicted, observed, marker="o", label=name)
    axis.plot([1e-4, 1], [1e-4, 1], linestyle=":")
    axis.set(xscale="log", yscale="log", xlabel="mean predicted probability", ylabel="observed rate")
    axis.set_title("Calibration, same rows")
    axis.legend()
    plots["champion_vs_candidate_calibration.png"] = png(figure)
    return plots


# Log-spaced bins: with a rare positive class, equal-count bins all sit near zero.
CALIBRATION_EDGES = np.array([0.0, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 0.6, 0.9, 1.0 + 1e-9])


def calibration_bins(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean predicted probability, observed positive rate and row count per non-empty bin."""
    bins = np.digitize(scores, CALIBRATION_EDGES[1:-1])
    counts = np.bincount(bins, minlength=len(CALIBRATION_EDGES) - 1)
    kept = np.flatnonzero(counts)
    predicted = np.bincount(bins, weights=scores, minlength=counts.size)[kept] / counts[kept]
    observed = np.bincount(bins, weights=labels, minlength=counts.size)[kept] / counts[kept]
    # a bin with no positives cannot be drawn on a log axis: show it at a floor
    return predicted, np.maximum(observed, 1e-4), counts[kept]


def regression_plots(
    days: np.ndarray, actual: np.ndarray, predicted: np.ndarray, baseline: np.ndarray | None
) -> dict[str, bytes]:
    order = np.argsort(days)
    unique_days, first = np.unique(days[order], return_index=True)
    totals = {
        name: np.add.reduceat(values[order], first)
        for name, values in (("actual", actual), ("model", predicted))
    }
    if baseline is not None:
        totals["baseline"] = np.add.reduceat(baseline[order], first)
    figure, axis = plt.subplots(figsize=(7, 3.5))
    for name, values in totals.items():
        axis.plot(unique_days, values, label=name)
    axis.legend()
    axis.set(ylabel="sum over all rows", title="Actual vs predicted per day (test window)")
    figure.autofmt_xdate()
    return {"daily_totals.png": png(figure)}


def _table(metrics: dict) -> str:
    rows = [
        f"| {k} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in sorted(metrics.items())
    ]
    return "\n".join(["| metric | value |", "|---|---|", *rows])


SEGMENT_FIGURES = ("flag_rate", "false_positive_rate", "recall", "wape", "bias")


def worst_first(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda r: (-r["disparity"], r["segment_column"], r["segment_value"]))


def _segment_table(rows: list[dict]) -> str:
    """The card's bias section: every segment, judged ones marked, worst disparity first."""
    figures = [f for f in SEGMENT_FIGURES if any(row.get(f) is not None for row in rows)]
    header = ["segment", "rows", *figures, "disparity", "judged"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in worst_first(rows):
        values = [f"{row[f]:.4f}" if row.get(f) is not None else "-" for f in figures]
        lines.append(
            f"| {row['segment_column']}={row['segment_value']} | {row['rows']:,} | "
            + " | ".join(values)
            + f" | {row['disparity']:.2f}x | {'yes' if row['is_judged'] else 'no'} |"
        )
    return "\n".join(lines)


def model_card(
    model: TrainedModel,
    version: int,
    facts: dict,
    metrics: dict,
    plots: list[str],
    segment_rows: list[dict] | None = None,
) -> str:
    spec = model.spec
    sections = [
        f"# {spec.name} v{version}",
        spec.description.strip(),
        "## Training",
        "\n".join(f"- **{k}**: {v}" for k, v in facts.items()),
        "## Test-window metrics (out of time)",
        _table(metrics["test"]),
    ]
    if "baseline" in metrics:
        sections += ["## Baseline (the spec's naive forecast) on the same rows", _table(metrics["baseline"])]
    if "champion" in metrics:
        sections += ["## Current champion on the same rows", _table(metrics["champion"])]
    if segment_rows:
        fairness = spec.fairness
        sections += [
            "## Across segments (test window)",
            f"Disparity: a segment's {' or '.join(fairness.metrics)} against all rows' (the larger when "
            f"several); segments of at least {fairness.min_rows} rows are judged against the limit "
            f"{fairness.max_disparity}x.",
            _segment_table(segment_rows),
        ]
    sections += ["## Plots", "\n".join(f"![{p}](plots/{p})" for p in plots)]
    sections += [
        "## Limitations",
        f"- Trained on the history in `{spec.features_relation}` only; drift in behaviour or in the "
        "data feeds changes its quality.\n"
        "- Metrics come from one out-of-time window; small windows give noisy figures.\n"
        f"- Labels mature after {spec.label.maturity_days} days: recent rows are unlabelled at training.",
    ]
    return "\n\n".join(sections) + "\n"


def training_report(
    model: TrainedModel,
    version: int,
    facts: dict,
    metrics: dict,
    plots: dict[str, bytes],
    segment_rows: list[dict],
) -> str:
    """The version's self-contained HTML report: what the card says, with its plots inlined."""
    from ml.html_report import Section, page

    def metric_table(values: dict) -> tuple[list[str], list[list[object]]]:
        rows = [[name, value] for name, value in sorted(values.items()) if not isinstance(value, dict)]
        return ["metric", "value"], rows

    compared = [(name, plots[name]) for name in sorted(plots) if name.startswith("champion_vs")]
    sections = [Section("Test-window metrics (out of time)", tables=[metric_table(metrics["test"])])]
    if "champion" in metrics:
        title = f"Champion v{metrics['champion_version']} on the same rows"
        sections.append(Section(title, tables=[metric_table(metrics["champion"])], images=compared))
    if segment_rows:
        figures = [f for f in SEGMENT_FIGURES if any(row.get(f) is not None for row in segment_rows)]
        rows = [
            [f"{r['segment_column']}={r['segment_value']}", r["rows"], *(r.get(f) for f in figures),
             r["disparity"], "yes" if r["is_judged"] else "no"]
            for r in worst_first(segment_rows)
        ]  # fmt: skip
        header = ["segment", "rows", *figures, "disparity", "judged"]
        sections.append(Section("Across segments (test window)", tables=[(header, rows)]))
    others = [(name, plots[name]) for name in sorted(plots) if not name.startswith("champion_vs")]
    sections.append(Section("Plots", images=others))
    title = f"{model.spec.name} v{version}"
    return page(title, {"model": model.spec.name, "version": version, **facts}, sections)
