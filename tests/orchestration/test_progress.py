"""The progress view: a check that warns is said, with its summary, and is not counted as a failure
(after `make run` on the default world every monitoring check is ok or warns with its reason)."""

from __future__ import annotations

from types import SimpleNamespace

import dagster as dg

from orchestration.lib.progress import Progress


def check_event(name: str, passed: bool, severity: dg.AssetCheckSeverity, summary: str | None = None):
    metadata = {"summary": dg.MetadataValue.text(summary)} if summary else {}
    evaluation = SimpleNamespace(
        passed=passed,
        severity=severity,
        asset_key=dg.AssetKey(["ml", "payment_fraud_monitoring"]),
        check_name=name,
        metadata=metadata,
    )
    event = SimpleNamespace(
        event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION,
        step_key="monitoring",
        event_specific_data=evaluation,
    )
    return SimpleNamespace(dagster_event=event)


def test_a_warning_is_said_with_its_reason_and_is_not_a_failure() -> None:
    lines: list[str] = []
    progress = Progress(lines.append)
    progress.handle(check_event("prediction_drift", True, dg.AssetCheckSeverity.ERROR))
    progress.handle(check_event("feature_drift", False, dg.AssetCheckSeverity.WARN, "ip_country: PSI 0.100"))
    progress.handle(check_event("matured_performance", False, dg.AssetCheckSeverity.ERROR))
    success = SimpleNamespace(
        event_type=dg.DagsterEventType.STEP_SUCCESS,
        step_key="monitoring",
        event_specific_data=SimpleNamespace(duration_ms=1500),
    )
    progress.handle(SimpleNamespace(dagster_event=success))
    assert lines[0].split() == [
        "ok",
        "monitoring",
        "1.5",
        "s",
        "checks",
        "1",
        "passed,",
        "1",
        "warned,",
        "1",
        "failed",
    ]
    assert (
        lines[1].strip() == "check warned: ml/payment_fraud_monitoring:feature_drift (ip_country: PSI 0.100)"
    )
    assert lines[2].strip() == "check failed: ml/payment_fraud_monitoring:matured_performance"
    assert progress.failures == ["check failed: ml/payment_fraud_monitoring:matured_performance"]
