"""One monitoring pass for one model: drift of each scored window of the champion against its
drift reference, performance per matured day, both written to the `ml` schema, and the verdicts.

Time is the warehouse's: `as_of` defaults to the latest event in the feature relation, so a
replay (`as_of` in the past) sees only windows, labels and outcomes known by then."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl

from ml import registry, segments
from ml.artifacts import LEGACY_REFERENCE_FILE, REFERENCE_FILE
from ml.dataset import (
    check_relation,
    label_is_time,
    label_sql,
    latest_event,
    timestamp_sql,
    unique_columns,
    window_for,
)
from ml.identifiers import quote, quote_relation
from ml.monitoring import drift as drift_measure
from ml.monitoring.checks import (
    ESTIMATED_PERFORMANCE,
    FEATURE_DRIFT,
    MATURED_PERFORMANCE,
    PREDICTION_DRIFT,
    SEGMENT_DISPARITY,
    Verdict,
)
from ml.monitoring.estimated import daily_estimates, estimate, estimation_error
from ml.monitoring.performance import below_floors, daily, performance
from ml.monitoring.reference import PREDICTION, DriftReference
from ml.monitoring.report import monitoring_sections, write_report
from ml.monitoring.seasonal import Period, SeasonalHistory
from ml.monitoring.tables import replace_version
from ml.specs import ESTIMATED_METRICS, ModelSpec

SEVERITY = {"ok": 0, "insufficient": 0, "excluded": 0, "warn": 1, "fail": 2}


def latest_days(rows: pl.DataFrame, count: int) -> tuple[list[date], pl.DataFrame]:
    """The latest `count` event days present in `rows`, and the rows of those days: what each
    verdict pools (`monitoring.performance_days`)."""
    days = sorted(rows["_event_date"].unique().to_list())[-count:]
    return days, rows.filter(pl.col("_event_date").is_in(days))


def _estimated_verdict(
    spec: ModelSpec, pending: pl.DataFrame, matured: pl.DataFrame, threshold: float | None
) -> Verdict:
    """The latest `performance_days` days whose labels are not final, pooled and estimated, against
    `estimated_floors`; a warning instead when, on the latest matured days, the estimate was off by
    more than `estimation_tolerance` (the calibration the estimate rests on no longer holds)."""
    monitoring = spec.monitoring
    if pending.is_empty():
        return Verdict("insufficient", "no scored day is waiting for its labels")
    days, waiting = latest_days(pending, monitoring.performance_days)
    pooled = estimate(waiting["_score"].to_numpy(), threshold)
    span = f"{days[0]}..{days[-1]} ({len(days)} days awaiting labels, {pooled['rows']} rows)"
    shown = {metric: pooled[f"estimated_{metric}"] for metric in ESTIMATED_METRICS}
    figures = {metric: value for metric, value in shown.items() if value is not None}
    said = ", ".join(f"{metric} {value:.3f}" for metric, value in figures.items())
    trust = ""
    if not matured.is_empty():
        matured_days, recent = latest_days(matured, monitoring.performance_days)
        then = estimate(recent["_score"].to_numpy(), threshold)
        realized = performance(spec.task, recent, threshold)
        errors = {
            metric: abs(then[f"estimated_{metric}"] - realized[metric])
            for metric in monitoring.estimated_floors or ESTIMATED_METRICS
            if then[f"estimated_{metric}"] is not None and realized.get(metric) is not None
        }
        figures |= {f"error_{metric}": value for metric, value in errors.items()}
        if errors:
            trust = (
                f" (on the latest {len(matured_days)} matured days it was off by at most "
                f"{max(errors.values()):.3f}, tolerance {monitoring.estimation_tolerance})"
            )
        if errors and max(errors.values()) > monitoring.estimation_tolerance:
            metric = max(errors, key=errors.get)
            return Verdict(
                "warn",
                f"{span}: estimated {said}, but not to be trusted: on the latest {len(matured_days)} "
                f"matured days the estimate was off by {errors[metric]:.3f} in {metric} (tolerance "
                f"{monitoring.estimation_tolerance}); the calibration it rests on has shifted",
                figures,
            )
    failures = [
        f"{metric} {shown[metric]:.4f} below floor {floor}"
        for metric, floor in monitoring.estimated_floors.items()
        if shown[metric] is not None and shown[metric] < floor
    ]
    if failures:
        return Verdict("fail", f"{span}: estimated {'; '.join(failures)}{trust}", figures)
    return Verdict("ok", f"{span}: estimated {said}{trust}", figures)


def _segment_verdict(
    spec: ModelSpec, matured: pl.DataFrame, threshold: float | None
) -> tuple[Verdict, list[dict]]:
    """Each matured day's segments (ml.segment_performance, scope `matured`), and a warning when,
    pooled over the latest `performance_days` matured days, a segment is treated more unequally than
    the spec's fairness limit (the gate's limit, here a warning: labels, not a new version, moved)."""
    fairness = spec.fairness
    if not fairness.columns:
        return Verdict("insufficient", "the spec names no segments"), []
    if matured.is_empty():
        return Verdict("insufficient", "no event day has final labels yet"), []
    rows = []
    for (day,), part in matured.sort("_event_date").group_by("_event_date", maintain_order=True):
        measured, _ = segments.measure(
            spec, part, part["_label"].to_numpy(), part["_score"].to_numpy(), threshold
        )
        rows += [{**row, "event_date": day} for row in measured]
    days, recent = latest_days(matured, spec.monitoring.performance_days)
    _, worst = segments.measure(
        spec, recent, recent["_label"].to_numpy(), recent["_score"].to_numpy(), threshold
    )
    span = f"{days[0]}..{days[-1]} ({len(days)} matured days)"
    if worst is None:
        return Verdict("insufficient", f"{span}: no segment of {fairness.min_rows} rows yet"), rows
    figures = {"worst_disparity": worst.value}
    if worst.value > fairness.max_disparity:
        summary = f"{span}: {worst.describe()}, over the limit {fairness.max_disparity}"
        return Verdict("warn", summary, figures), rows
    return Verdict("ok", f"{span}: worst {worst.describe()} (limit {fairness.max_disparity})", figures), rows


@dataclass(frozen=True)
class MonitoringResult:
    model_name: str
    model_version: int
    as_of: datetime
    windows: int
    drift_rows: int
    performance_days: int
    feature_drift: Verdict
    prediction_drift: Verdict
    performance: Verdict
    estimated: Verdict  # performance estimated before the labels mature (binary models)
    segments: Verdict  # bias across the spec's segments on the latest matured days
    report: Path  # the pass's HTML report, beside the model version
    estimation_error: dict[str, tuple[float, int]]  # per metric: the estimate's MAE on matured days, days
    latest_window: tuple[date, date] | None
    latest_figures: list[drift_measure.DriftFigure]


def load_reference(artifact_path: Path) -> DriftReference | None:
    """The version's drift reference (a version trained before this name has it as baseline.json)."""
    for name in (REFERENCE_FILE, LEGACY_REFERENCE_FILE):
        path = artifact_path / name
        if path.is_file():
            return DriftReference.from_json(json.loads(path.read_text()))
    return None


def data_now(con: duckdb.DuckDBPyConnection, spec: ModelSpec) -> datetime:
    """The warehouse's present, as training sees it (ml.dataset.latest_event)."""
    latest = latest_event(con, spec)
    if latest is None:
        raise ValueError(f"{spec.source_path}: {spec.features_relation} has no rows")
    return latest


def _feature_columns(spec: ModelSpec, names: tuple[str, ...]) -> list[str]:
    """The features as monitoring compares them: numbers as double, categories as text."""
    kind = {name: "double" if name in spec.features.numeric else "varchar" for name in spec.features.names}
    return [f"cast(f.{quote(name)} as {kind[name]}) as {quote(name)}" for name in names]


def _event(spec: ModelSpec) -> str:
    return f"cast(f.{quote(spec.event_timestamp)} as timestamp)"


def _history_sql(spec: ModelSpec, until: datetime) -> str:
    """The seasonal features of every row up to `until`, with their event day."""
    day = f"cast({_event(spec)} as date) as _event_date"
    columns = ", ".join([day, *_feature_columns(spec, spec.monitoring.seasonal)])
    order = ", ".join(f"f.{quote(k)}" for k in spec.entity_key)
    return (
        f"select {columns} from {quote_relation(spec.features_relation)} f "
        f"where {_event(spec)} <= {timestamp_sql(until)} order by {order}"
    )


def _scored_sql(
    spec: ModelSpec, version: int, after: datetime, until: datetime, label_known: datetime, is_time: bool
) -> str:
    """The champion's scored rows with their features, event time, window day and label."""
    keys = list(spec.entity_key)
    feature_cols = _feature_columns(spec, spec.features.names)
    event = _event(spec)
    window_day = (
        f"s.{quote(spec.scoring.day_column)}" if spec.scoring.day_column else f"cast({event} as date)"
    )
    join = " and ".join(f"s.{quote(k)} = f.{quote(k)}" for k in keys)
    columns = ", ".join(
        [
            *(f"f.{quote(k)}" for k in unique_columns(keys) if k not in spec.features.names),
            *feature_cols,
            f"cast(s.{quote(spec.output.score_column)} as double) as _score",
            f"{event} as _event_time",
            f"cast({event} as date) as _event_date",
            f"{window_day} as _window_day",
            f"{label_sql(spec, label_known, is_time, 'f.')} as _label",
        ]
    )
    order = ", ".join(f"f.{quote(k)}" for k in keys)
    return (
        f"select {columns} from {quote_relation(spec.output.table)} s "
        f"join {quote_relation(spec.features_relation)} f on {join} "
        f"where s.model_version = {int(version)} "
        f"and {event} > {timestamp_sql(after)} and {event} <= {timestamp_sql(until)} "
        f"order by {order}"
    )


def _windows(spec: ModelSpec, scored: pl.DataFrame) -> list[tuple[date, date, pl.DataFrame]]:
    """Daily specs: one window per scoring day; others: the scored set is one window."""
    if scored.is_empty():
        return []
    if spec.scoring.window == "daily":
        return [
            (day, day, part)
            for (day,), part in scored.sort("_window_day").group_by("_window_day", maintain_order=True)
        ]
    return [(scored["_event_date"].min(), scored["_event_date"].max(), scored)]


def _drift_verdict(figures: list[drift_measure.DriftFigure], kind: str, spec: ModelSpec) -> Verdict:
    chosen = [f for f in figures if (f.feature == PREDICTION) == (kind == "prediction")]
    judged = [f for f in chosen if f.status not in ("excluded", "insufficient")]
    if not judged:
        return Verdict("insufficient", "no window with enough rows to judge yet")
    worst = max(judged, key=lambda f: (SEVERITY[f.status], f.judged_psi))
    seasonal = (
        f", {worst.judged_psi:.3f} beyond its seasonal allowance {worst.seasonal_allowance:.3f} "
        f"({worst.allowance_basis.replace('_', ' ')})"
        if worst.seasonal_allowance is not None
        else ""
    )
    summary = (
        f"{'prediction' if kind == 'prediction' else worst.feature}: PSI {worst.psi:.3f}{seasonal} "
        f"(n={worst.sample_size}; warn {spec.monitoring.psi_warn}, fail {spec.monitoring.psi_fail})"
    )
    status = worst.status if worst.status in ("warn", "fail") else "ok"
    return Verdict(status, summary, {f.feature: round(f.psi, 4) for f in judged})


def _performance_verdict(spec: ModelSpec, matured: pl.DataFrame, threshold: float | None) -> Verdict:
    if matured.is_empty():
        return Verdict("insufficient", "no event day has final labels yet")
    days, recent = latest_days(matured, spec.monitoring.performance_days)
    pooled = performance(spec.task, recent, threshold)
    failures = below_floors(spec.task, pooled, spec.monitoring.performance_floors)
    span = f"{days[0]}..{days[-1]} ({len(days)} matured days, {pooled['rows']} rows)"
    figures = {k: v for k, v in pooled.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    if failures:
        return Verdict("fail", f"{span}: {'; '.join(failures)}", figures)
    return Verdict("ok", f"{span}: every floor met {spec.monitoring.performance_floors}", figures)


def _seasonal_history(
    con: duckdb.DuckDBPyConnection, spec: ModelSpec, training_cutoff: datetime
) -> SeasonalHistory | None:
    """The seasonal features' history up to the end of the champion's drift reference (its test
    rows), or None when the spec names no seasonal feature."""
    if not spec.monitoring.seasonal:
        return None
    split = window_for(spec, training_cutoff)
    history = con.sql(_history_sql(spec, split.matured_until)).pl()
    if history.is_empty():
        return None
    reference = Period((split.test_start + timedelta(microseconds=1)).date(), split.matured_until.date())
    complete_from = history["_event_date"].min() + timedelta(days=spec.monitoring.seasonal_warmup_days)
    return SeasonalHistory(history, reference, complete_from, spec.monitoring)


def monitor(
    con: duckdb.DuckDBPyConnection,
    spec: ModelSpec,
    models_dir: Path,
    computed_at: datetime,
    as_of: datetime | None = None,
) -> MonitoringResult:
    """Measure the champion's windows and matured days up to `as_of`, replace its monitoring rows."""
    from ml.artifacts import load_artifact  # LightGBM loads only when monitoring runs

    champion = registry.resolve(con, spec.name)
    as_of = as_of or data_now(con, spec)
    artifact = champion.artifact_dir(models_dir)
    model = load_artifact(artifact, champion.artifact_hash)
    reference = load_reference(artifact)
    maturity = timedelta(days=spec.label.maturity_days)

    is_time = label_is_time(spec, check_relation(con, spec))
    # every out-of-sample scored row, read once: from the first day whose label the model was not
    # trained on (its cutoff less the label window) to as_of. Drift reads the days after the cutoff,
    # matured performance the days whose labels are final, the estimate all of them.
    matured_until = champion.training_cutoff - maturity
    out_of_sample = con.sql(_scored_sql(spec, champion.version, matured_until, as_of, as_of, is_time)).pl()
    scored = out_of_sample.filter(pl.col("_event_time") > champion.training_cutoff)
    drift_rows: list[dict] = []
    latest: tuple[date, date] | None = None
    latest_figures: list[drift_measure.DriftFigure] = []
    latest_rows: pl.DataFrame | None = None
    windows = _windows(spec, scored)
    seasonal = _seasonal_history(con, spec, champion.training_cutoff) if reference is not None else None
    for start, end, part in windows if reference is not None else []:
        allowances = seasonal.allowances(Period(start, end)) if seasonal else None
        figures = drift_measure.measure(
            reference, part, part["_score"].to_numpy(), spec.monitoring, allowances
        )
        for figure in figures:
            drift_rows.append(
                {
                    "model_name": spec.name,
                    "model_version": champion.version,
                    "window_start": start,
                    "window_end": end,
                    **figure.__dict__,
                    "psi_warn": spec.monitoring.psi_warn,
                    "psi_fail": spec.monitoring.psi_fail,
                }
            )
        # the check judges the latest window that has enough rows (a thin last day would hide drift)
        if part.height >= spec.monitoring.min_sample or latest is None:
            latest, latest_figures, latest_rows = (start, end), figures, part

    # out-of-sample days whose labels are final by as_of (an outcome not known: not labelled)
    matured = out_of_sample.filter(
        (pl.col("_event_time") <= as_of - maturity) & pl.col("_label").is_not_null()
    )
    performance_rows = [
        {
            "model_name": spec.name,
            "model_version": champion.version,
            **row,
            "labels_final_at": datetime.combine(row["event_date"], datetime.min.time()) + maturity,
        }
        for row in daily(spec.task, matured, model.threshold)
    ]
    if reference is None:
        missing = Verdict(
            "insufficient", f"v{champion.version} has no {REFERENCE_FILE} (trained before monitoring)"
        )
        feature_verdict = prediction_verdict = missing
    else:
        feature_verdict = _drift_verdict(latest_figures, "feature", spec)
        prediction_verdict = _drift_verdict(latest_figures, "prediction", spec)
    performance_verdict = _performance_verdict(spec, matured, model.threshold)
    estimated_rows: list[dict] = []
    if spec.task == "binary":
        # every out-of-sample scored day, labels final or not: the matured ones measure the estimator
        estimated_rows = [
            {
                "model_name": spec.name,
                "model_version": champion.version,
                **row,
                "operating_threshold": model.threshold,
                "labels_final_at": datetime.combine(row["event_date"], datetime.min.time()) + maturity,
            }
            for row in daily_estimates(out_of_sample, model.threshold)
        ]
        pending = out_of_sample.filter(pl.col("_event_time") > as_of - maturity)
        estimated_verdict = _estimated_verdict(spec, pending, matured, model.threshold)
    else:
        estimated_verdict = Verdict("insufficient", "a regression has no probabilities to estimate from")
    segment_verdict, segment_rows = _segment_verdict(spec, matured, model.threshold)
    verdicts = [
        (FEATURE_DRIFT, feature_verdict.status, feature_verdict.summary),
        (PREDICTION_DRIFT, prediction_verdict.status, prediction_verdict.summary),
        (MATURED_PERFORMANCE, performance_verdict.status, performance_verdict.summary),
        (ESTIMATED_PERFORMANCE, estimated_verdict.status, estimated_verdict.summary),
        (SEGMENT_DISPARITY, segment_verdict.status, segment_verdict.summary),
    ]
    replace_version(
        con,
        spec.name,
        champion.version,
        drift_rows,
        performance_rows,
        estimated_rows,
        verdicts,
        as_of,
        computed_at,
    )
    con.execute("begin transaction")
    segments.store(con, spec.name, champion.version, "matured", segment_rows, computed_at)
    con.execute("commit")
    sections = monitoring_sections(
        spec, reference, latest_rows, drift_rows, performance_rows, estimated_rows, verdicts
    )
    report = write_report(models_dir, spec, champion.version, as_of, sections)
    return MonitoringResult(
        model_name=spec.name,
        model_version=champion.version,
        as_of=as_of,
        windows=len(windows),
        drift_rows=len(drift_rows),
        performance_days=len(performance_rows),
        feature_drift=feature_verdict,
        prediction_drift=prediction_verdict,
        performance=performance_verdict,
        estimated=estimated_verdict,
        segments=segment_verdict,
        report=report,
        estimation_error=estimation_error(estimated_rows, performance_rows),
        latest_window=latest,
        latest_figures=latest_figures,
    )
