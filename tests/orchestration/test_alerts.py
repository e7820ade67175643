"""Alerts: one notice per incident to a webhook and to email, one when it clears, none when nothing
is configured, and a sink that is down delays only its own notices. Against real servers on loopback
(an HTTP server taking Slack's JSON, aiosmtpd) and a real Dagster instance."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pytest
from aiosmtpd.controller import Controller

from ml import registry
from ml.duckdb_limits import connect
from ml.loopback import free_port
from ml.monitoring.checks import FEATURE_DRIFT
from orchestration.defs.alerts.config import AlertConfig, AlertConfigError
from orchestration.defs.alerts.incidents import OPEN, RECOVERED, Incident, Incidents, Notice, Observation
from orchestration.defs.alerts.sensors import alerts
from orchestration.defs.alerts.sinks import EmailSink, SinkError, WebhookSink
from orchestration.defs.dbt.checks import FRESHNESS_CHECK

SINKS = ("webhook", "email")


class Webhook:
    """An HTTP server on loopback that records each JSON body posted to it; it answers 503 to the
    first `failures` posts (a sink that is down)."""

    def __init__(self, failures: int = 0) -> None:
        self.bodies: list[dict] = []
        self.failures = failures
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if hook.failures > 0:
                    hook.failures -= 1
                    self.send_response(503)
                    self.end_headers()
                    self.wfile.write(b"unavailable")
                    return
                hook.bodies.append(payload)
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/services/T0/B0/secret-token"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def texts(self) -> list[str]:
        return [body["text"] for body in self.bodies]


class Mailbox:
    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def __init__(self) -> None:
        self.messages: list = []

    def subjects(self) -> list[str]:
        return [message["Subject"] for message in self.messages]


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.server.shutdown()


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


def incident(key: str = "run:nightly") -> Incident:
    return Incident(key, "run_failed", f"{key} failed", "step x: boom", f"http://ui/{key}")


def seen(*incidents: Incident, also: tuple[str, ...] = ()) -> Observation:
    return Observation(frozenset({i.key for i in incidents} | set(also)), incidents)


def tell_all(incidents: Incidents, sinks=SINKS) -> list[tuple[str, str]]:
    due = incidents.due(sinks)
    for sink, notice in due:
        incidents.delivered(sink, notice)
    incidents.forget_cleared(sinks)
    return [(sink, notice.status) for sink, notice in due]


def test_an_incident_is_told_once_when_it_opens_and_once_when_it_clears() -> None:
    incidents = Incidents()
    incidents.observe(seen(incident()))
    assert tell_all(incidents) == [("webhook", OPEN), ("email", OPEN)]
    # the next ticks, and the same job failing again (a retry), are the same incident
    for _ in range(3):
        incidents = Incidents.loads(incidents.dumps())  # the state lives in the sensor's cursor
        incidents.observe(seen(incident()))
        assert tell_all(incidents) == []
    # not observed this tick (say, no snapshot yet): neither failing nor cleared
    incidents.observe(Observation(frozenset(), ()))
    assert tell_all(incidents) == []
    incidents.observe(seen(also=("run:nightly",)))
    assert tell_all(incidents) == [("webhook", RECOVERED), ("email", RECOVERED)]
    assert incidents.tracked == {}
    incidents.observe(seen(also=("run:nightly",)))
    assert tell_all(incidents) == []


def test_a_sink_that_was_down_is_told_later_and_the_others_not_twice() -> None:
    incidents = Incidents()
    incidents.observe(seen(incident()))
    due = incidents.due(SINKS)
    incidents.delivered(*due[1])  # email took it, the webhook was down
    assert [(sink, notice.status) for sink, notice in incidents.due(SINKS)] == [("webhook", OPEN)]
    # it cleared before the webhook came back: the webhook never heard of it, so nothing to clear
    incidents.observe(seen(also=("run:nightly",)))
    assert tell_all(incidents) == [("email", RECOVERED)]
    assert incidents.tracked == {}


def test_failing_again_before_the_recovery_was_told_is_still_one_incident() -> None:
    incidents = Incidents()
    incidents.observe(seen(incident()))
    tell_all(incidents)
    incidents.observe(seen(also=("run:nightly",)))
    incidents.observe(seen(incident()))  # flapped back before any sink heard it clear
    assert tell_all(incidents) == []


def test_email_needs_recipients_and_nothing_configured_means_no_sink() -> None:
    with pytest.raises(AlertConfigError, match="ALERT_SMTP_HOST is set but ALERT_EMAIL_TO is empty"):
        AlertConfig.from_environ({"ALERT_SMTP_HOST": "localhost"})
    with pytest.raises(AlertConfigError, match="ALERT_SMTP_PORT='smtp'"):
        AlertConfig.from_environ({"ALERT_SMTP_PORT": "smtp"})
    config = AlertConfig.from_environ({})
    assert (config.webhook_url, config.smtp_host) == (None, None)


def test_the_sinks_deliver_to_real_servers_and_name_themselves_not_their_secret(
    webhook: Webhook, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    notice = Notice(incident(), OPEN)
    WebhookSink(webhook.url).send(notice)
    [body] = webhook.bodies
    assert body["text"] == "[FAILING] run:nightly failed\nstep x: boom\nhttp://ui/run:nightly"
    assert body["blocks"][-1]["elements"][0]["text"] == "<http://ui/run:nightly|Open in Dagster>"
    config = AlertConfig(smtp_host="127.0.0.1", smtp_port=port, email_to=("oncall@example.com",))
    EmailSink(config).send(Notice(incident(), RECOVERED))
    [message] = box.messages
    assert message["Subject"] == "[RECOVERED] run:nightly failed"
    assert message["To"] == "oncall@example.com"
    assert "http://ui/run:nightly" in message.get_payload()

    down = Webhook(failures=1)
    with pytest.raises(SinkError, match=r"webhook at 127\.0\.0\.1:\d+: HTTP 503") as error:
        WebhookSink(down.url).send(notice)
    assert "secret-token" not in str(error.value)
    down.server.shutdown()
    down.server.server_close()
    with pytest.raises(SinkError, match=r"webhook at 127\.0\.0\.1:\d+: .*refused"):
        WebhookSink(down.url).send(notice)
    closed = AlertConfig(smtp_host="127.0.0.1", smtp_port=free_port(), email_to=("a@b",))
    with pytest.raises(SinkError, match=r"email via 127\.0\.0\.1:\d+"):
        EmailSink(closed).send(notice)


# --- the sensor against a real Dagster instance ------------------------------------------------------

BEHAVIOUR: dict[str, bool] = {}  # what the test's assets do on their next run


@dg.asset(check_specs=[dg.AssetCheckSpec(name, asset="scores") for name in (FEATURE_DRIFT, "spread")])
def scores():
    if BEHAVIOUR["step_fails"]:
        raise RuntimeError("the feature table was not there")
    drifted = BEHAVIOUR["drift_fails"]
    yield dg.MaterializeResult(
        check_results=[
            dg.AssetCheckResult(
                check_name=FEATURE_DRIFT,
                passed=not drifted,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={"summary": "amount_usd PSI 0.41 >= 0.25" if drifted else "all features stable"},
            ),
            # a failed warning is not an incident
            dg.AssetCheckResult(check_name="spread", passed=False, severity=dg.AssetCheckSeverity.WARN),
        ]
    )


@dg.asset(check_specs=[dg.AssetCheckSpec(FRESHNESS_CHECK, asset="landing_payments")])
def landing_payments():
    stale = BEHAVIOUR["stale"]
    yield dg.MaterializeResult(
        check_results=[
            dg.AssetCheckResult(
                check_name=FRESHNESS_CHECK,
                passed=not stale,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"lag_days": 5 if stale else 0},
            )
        ]
    )


nightly = dg.define_asset_job("nightly", selection=[scores, landing_payments])
DEFS = dg.Definitions(assets=[scores, landing_payments], jobs=[nightly], sensors=[alerts])


class Sensor:
    """Ticks of the alert sensor, carrying its cursor from one tick to the next as the daemon does."""

    def __init__(self, instance: dg.DagsterInstance) -> None:
        self.instance, self.cursor = instance, None

    def tick(self) -> str:
        context = dg.build_sensor_context(instance=self.instance, cursor=self.cursor, definitions=DEFS)
        result = alerts(context)
        self.cursor = context.cursor
        assert isinstance(result, dg.SkipReason)
        return result.skip_message


def run_nightly(instance: dg.DagsterInstance, **behaviour: bool) -> bool:
    BEHAVIOUR.update(behaviour)
    job = DEFS.resolve_job_def("nightly")
    return job.execute_in_process(instance=instance, raise_on_error=False).success


def record_decision(snapshot: Path, action: str) -> None:
    with connect(snapshot) as con:
        con.execute(registry.DDL)
        version = 2 if action == "refused" else 3
        at = f"2025-03-0{version} 06:00:00"
        registry.record_alias(con, "payment_fraud", "champion", version, action, "AUC-PR 0.61 < 0.70", at)


def test_the_sensor_alerts_once_per_incident_and_once_when_each_clears(
    webhook: Webhook,
    mailbox: tuple[Mailbox, int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    box, port = mailbox
    snapshot = tmp_path / "analytics.duckdb"
    for name, value in {
        "ALERT_WEBHOOK_URL": webhook.url,
        "ALERT_SMTP_HOST": "127.0.0.1",
        "ALERT_SMTP_PORT": str(port),
        "ALERT_EMAIL_TO": "oncall@example.com",
        "DAGSTER_UI_URL": "http://dagster.internal:3000",
        "ANALYTICS_DB": str(snapshot),
    }.items():
        monkeypatch.setenv(name, value)
    instance = dg.DagsterInstance.ephemeral()
    sensor = Sensor(instance)

    # a failed run, a stale landing source, a refused promotion
    assert not run_nightly(instance, step_fails=True, drift_fails=False, stale=True)
    record_decision(snapshot, "refused")
    assert sensor.tick() == "6 notice(s) sent, 3 incident(s) open"  # three incidents, two sinks
    opened = [
        "[FAILING] Check landing_freshness failed on landing_payments",
        "[FAILING] Promotion of payment_fraud v2 refused",
        "[FAILING] Run of nightly failed",
    ]
    assert [text.split("\n")[0] for text in webhook.texts()] == opened
    assert box.subjects() == opened
    run_alert = webhook.texts()[2]
    assert "step scores: RuntimeError: the feature table was not there" in run_alert
    assert "http://dagster.internal:3000/runs/" in run_alert
    assert webhook.texts()[0].endswith("http://dagster.internal:3000/assets/landing_payments?view=checks")

    # every tick after, and the same job failing again (a retry), add nothing
    assert sensor.tick() == "0 notice(s) sent, 3 incident(s) open"
    assert not run_nightly(instance, step_fails=True)
    assert sensor.tick() == "0 notice(s) sent, 3 incident(s) open"
    assert len(webhook.bodies) == len(box.messages) == 3

    # the run recovers; the drift check now fails with error severity (its warning sibling is ignored)
    assert run_nightly(instance, step_fails=False, drift_fails=True)
    assert sensor.tick() == "4 notice(s) sent, 3 incident(s) open"
    assert [text.split("\n")[:2] for text in webhook.texts()[3:]] == [
        ["[FAILING] Check feature_drift failed on scores", "amount_usd PSI 0.41 >= 0.25"],
        ["[RECOVERED] Run of nightly failed", "Cleared: the run failed is no longer observed."],
    ]

    # everything clears: one recovery each, then silence and an empty cursor
    assert run_nightly(instance, drift_fails=False, stale=False)
    record_decision(snapshot, "set")
    assert sensor.tick() == "6 notice(s) sent, 0 incident(s) open"
    assert sensor.tick() == "0 notice(s) sent, 0 incident(s) open"
    assert [s.split("]")[0] for s in box.subjects()] == ["[FAILING"] * 4 + ["[RECOVERED"] * 4
    assert len(webhook.bodies) == 8
    assert json.loads(sensor.cursor) == {"incidents": {}}


def test_a_sink_that_is_down_delays_only_its_own_notice(
    mailbox: tuple[Mailbox, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    box, port = mailbox
    down = Webhook(failures=1)
    monkeypatch.setenv("ALERT_WEBHOOK_URL", down.url)
    monkeypatch.setenv("ALERT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("ALERT_SMTP_PORT", str(port))
    monkeypatch.setenv("ALERT_EMAIL_TO", "oncall@example.com")
    monkeypatch.setenv("ANALYTICS_DB", str(tmp_path / "none.duckdb"))
    instance = dg.DagsterInstance.ephemeral()
    sensor = Sensor(instance)
    assert not run_nightly(instance, step_fails=True, stale=False)
    first = sensor.tick()  # the tick completes; the webhook's 503 is reported, email went out
    assert first.startswith("1 notice(s) sent, 1 incident(s) open; not delivered: webhook at 127.0.0.1:")
    assert "HTTP 503" in first and len(box.messages) == 1 and down.bodies == []
    assert sensor.tick() == "1 notice(s) sent, 1 incident(s) open"  # the webhook is back
    assert len(down.bodies) == 1 and len(box.messages) == 1
    down.server.shutdown()


def test_alerts_are_off_when_no_sink_is_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ALERT_WEBHOOK_URL", "ALERT_SMTP_HOST"):
        monkeypatch.delenv(name, raising=False)
    instance = dg.DagsterInstance.ephemeral()
    assert not run_nightly(instance, step_fails=True, stale=False)
    sensor = Sensor(instance)
    assert sensor.tick() == "alerts are off: set ALERT_WEBHOOK_URL and/or ALERT_SMTP_HOST"
    assert sensor.cursor is None
