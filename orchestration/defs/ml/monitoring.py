"""Per model, a monitoring asset after its scores: drift of each scored window against the
champion's drift reference and performance once labels are final (ml.drift_metrics,
ml.model_performance_daily), with three asset checks. Drift warns at the spec's psi_warn and fails
at psi_fail; matured performance below the spec's floors fails. The checks do not block the run:
the retraining sensor (orchestration/defs/automation.py) acts on their verdicts."""

# no `from __future__ import annotations`: Dagster checks the context annotation at runtime
import dagster as dg

from ml.monitoring.checks import (
    ESTIMATED_PERFORMANCE,
    FEATURE_DRIFT,
    MATURED_PERFORMANCE,
    PREDICTION_DRIFT,
    SEGMENT_DISPARITY,
    Verdict,
)
from ml.specs import ModelSpec
from orchestration.defs.domains import dbt_environ, running_specs
from orchestration.defs.lock import LOCK_KEY
from orchestration.defs.ml.assets import WRITER_RETRY, now_utc, numeric_metadata, scores_key
from orchestration.defs.settings import SETTINGS_KEY, WarehouseSettings
from orchestration.lib.engine import ml_connection
from orchestration.lib.markdown import markdown_table
from orchestration.lib.translator import ML_GROUP

TOP_FEATURES = 10
CHECK_DESCRIPTIONS = {
    FEATURE_DRIFT: "PSI of each monitored feature in the latest window against the drift reference",
    PREDICTION_DRIFT: "PSI of the champion's output in the latest window against its drift reference",
    MATURED_PERFORMANCE: "performance over the latest matured days against the spec's floors",
    ESTIMATED_PERFORMANCE: "performance estimated from the calibrated scores of the days still awaiting "
    "their labels, against the spec's estimated floors (a warning when the estimate has stopped "
    "matching the matured days)",
    SEGMENT_DISPARITY: "the worst segment's disparity on the latest matured days against the spec's "
    "fairness limit (a warning)",
}


def monitoring_key(spec: ModelSpec) -> dg.AssetKey:
    return dg.AssetKey(["ml", f"{spec.name}_monitoring"])


def _check(name: str, verdict: Verdict) -> dg.AssetCheckResult:
    severity = dg.AssetCheckSeverity.WARN if verdict.status == "warn" else dg.AssetCheckSeverity.ERROR
    return dg.AssetCheckResult(
        check_name=name,
        passed=verdict.status in ("ok", "insufficient"),
        severity=severity,
        metadata={"status": verdict.status, "summary": verdict.summary, **numeric_metadata(verdict.figures)},
    )


def _drift_table(result: "MonitoringResult") -> str:  # noqa: F821 (ml.monitoring.run loads with a run)
    figures = sorted(result.latest_figures, key=lambda f: f.psi, reverse=True)[:TOP_FEATURES]
    rows = [
        (
            f.feature,
            f"{f.psi:.3f}",
            f"{f.js_divergence:.4f}",
            f"{f.sample_size:,}",
            f"{f.reference_size:,}",
            f.status,
        )
        for f in figures
    ]
    header = ("feature", "PSI", "JS", "n", "reference n", "status")
    return markdown_table(header, rows, right=("PSI", "JS", "n", "reference n"))


def monitoring_asset(spec: ModelSpec) -> dg.AssetsDefinition:
    key = monitoring_key(spec)

    @dg.asset(
        key=key,
        deps=[scores_key(spec)],
        group_name=ML_GROUP,
        kinds={"duckdb", "python"},
        description=f"Drift, matured and estimated performance of {spec.name}'s champion "
        "(ml.drift_metrics, ml.model_performance_daily, ml.estimated_performance_daily, "
        "ml.monitoring_verdicts).",
        check_specs=[
            dg.AssetCheckSpec(name, asset=key, description=text) for name, text in CHECK_DESCRIPTIONS.items()
        ],
        retry_policy=WRITER_RETRY,
        required_resource_keys={LOCK_KEY, SETTINGS_KEY},
    )
    def monitoring(context: dg.AssetExecutionContext):
        settings: WarehouseSettings = context.resources.settings
        from ml.monitoring.run import monitor

        with ml_connection(settings.paths, dbt_environ()) as con:
            result = monitor(con, spec, settings.models_dir, now_utc())
        window = f"{result.latest_window[0]}..{result.latest_window[1]}" if result.latest_window else "none"
        context.log.info(
            f"{spec.name} v{result.model_version}: feature drift {result.feature_drift.status}, "
            f"prediction drift {result.prediction_drift.status}, performance {result.performance.status}"
        )
        yield dg.MaterializeResult(
            metadata={
                "model_version": result.model_version,
                "as_of": str(result.as_of),
                "windows": result.windows,
                "latest_window": window,
                "matured_days": result.performance_days,
                "drift_rows": result.drift_rows,
                "latest_window_drift": dg.MetadataValue.md(_drift_table(result)),
                "performance": result.performance.summary,
                "estimated_performance": result.estimated.summary,
                "report": dg.MetadataValue.path(str(result.report)),
                **{
                    f"estimate_mae_{metric}": dg.MetadataValue.float(round(error, 4))
                    for metric, (error, _) in result.estimation_error.items()
                },
            },
            check_results=[
                _check(FEATURE_DRIFT, result.feature_drift),
                _check(PREDICTION_DRIFT, result.prediction_drift),
                _check(MATURED_PERFORMANCE, result.performance),
                _check(ESTIMATED_PERFORMANCE, result.estimated),
                _check(SEGMENT_DISPARITY, result.segments),
            ],
        )

    return monitoring


def monitoring_assets() -> list[dg.AssetsDefinition]:
    return [monitoring_asset(spec) for spec in running_specs().values()]
