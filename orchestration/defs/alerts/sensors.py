"""The alert sensor: each tick it observes runs, checks and promotion decisions, advances the
incidents kept in its cursor and tells each configured sink what it has not been told yet.

Alerts are sent from a sensor, never from a run: a sink that is down delays its notice (it is tried
on the next tick) but cannot fail or slow the pipeline. Off, with a skip reason, when no sink is
configured (orchestration/defs/alerts/config.py)."""

from __future__ import annotations

import dagster as dg

from orchestration.defs.alerts import observe
from orchestration.defs.alerts.config import AlertConfig
from orchestration.defs.alerts.incidents import Incidents, Observation
from orchestration.defs.alerts.sinks import Sink, SinkError, configured_sinks
from orchestration.lib.environment import analytics_db


def observe_all(context: dg.SensorEvaluationContext, config: AlertConfig) -> Observation:
    repository = context.repository_def
    jobs = [job.name for job in repository.get_all_jobs()] if repository else []
    check_keys = list(repository.asset_graph.asset_check_keys) if repository else []
    return Observation.merge(
        [
            observe.runs(context.instance, jobs, config.ui_url),
            observe.checks(context.instance, check_keys, config.ui_url),
            observe.promotions(analytics_db(), config.ui_url),
        ]
    )


def tell(incidents: Incidents, sinks: list[Sink], log) -> tuple[int, list[str]]:
    """Send what is due; returns how many notices went out and what failed."""
    by_name = {sink.name: sink for sink in sinks}
    sent, failed = 0, []
    for name, notice in incidents.due(by_name):
        try:
            by_name[name].send(notice)
        except SinkError as error:
            log.warning(f"alert not delivered, retried next tick: {error}")
            failed.append(str(error))
            continue
        incidents.delivered(name, notice)
        sent += 1
    incidents.forget_cleared(by_name)
    return sent, failed


@dg.sensor(
    name="alerts",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="One alert per incident (failed run, failed error check, drift or performance FAIL, "
    "stale landing source, refused promotion) to the webhook and email configured by ALERT_* "
    "variables, and one when it clears; off when none is set.",
)
def alerts(context: dg.SensorEvaluationContext):
    config = AlertConfig.from_environ()
    sinks = configured_sinks(config)
    if not sinks:
        return dg.SkipReason("alerts are off: set ALERT_WEBHOOK_URL and/or ALERT_SMTP_HOST")
    incidents = Incidents.loads(context.cursor)
    incidents.observe(observe_all(context, config))
    sent, failed = tell(incidents, sinks, context.log)
    context.update_cursor(incidents.dumps())
    open_now = sum(1 for tracked in incidents.tracked.values() if tracked.status == "open")
    summary = f"{sent} notice(s) sent, {open_now} incident(s) open"
    return dg.SkipReason(summary + (f"; not delivered: {'; '.join(failed)}" if failed else ""))
