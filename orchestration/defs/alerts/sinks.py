"""Where alerts go: a Slack-compatible webhook and email. Each sink sends one notice or raises
`SinkError` naming itself (never its secret): the sensor logs it and tries again on the next tick."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import urlsplit

from slack_sdk.webhook import WebhookClient

from orchestration.defs.alerts.config import AlertConfig
from orchestration.defs.alerts.incidents import OPEN, Notice

TIMEOUT_SECONDS = 5  # a tick waits at most this long on a sink that does not answer
ICONS = {OPEN: "FAILING", "recovered": "RECOVERED"}


class SinkError(RuntimeError):
    """A sink that could not take a notice."""


class Sink(Protocol):
    name: str

    def send(self, notice: Notice) -> None: ...


def headline(notice: Notice) -> str:
    return f"[{ICONS[notice.status]}] {notice.incident.title}"


def explanation(notice: Notice) -> str:
    incident = notice.incident
    if notice.status == OPEN:
        return incident.detail
    return f"Cleared: the {incident.kind.replace('_', ' ')} is no longer observed."


def body(notice: Notice) -> str:
    return "\n".join([headline(notice), explanation(notice), notice.incident.link])


class WebhookSink:
    """A Slack incoming webhook, or anything that takes its JSON (`text` plus `blocks`)."""

    name = "webhook"

    def __init__(self, url: str) -> None:
        self._client = WebhookClient(url, timeout=TIMEOUT_SECONDS)
        self._where = urlsplit(url).netloc  # the path of a Slack webhook is its secret

    def send(self, notice: Notice) -> None:
        incident = notice.incident
        text = body(notice)
        link = {"type": "mrkdwn", "text": f"<{incident.link}|Open in Dagster>"}
        blocks = [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{headline(notice)}*"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": explanation(notice)}},
            {"type": "context", "elements": [link]},
        ]
        try:
            response = self._client.send(text=text, blocks=blocks)
        except OSError as error:  # refused, unreachable, timed out
            raise SinkError(f"webhook at {self._where}: {error}") from error
        if response.status_code != 200:
            raise SinkError(f"webhook at {self._where}: HTTP {response.status_code} {response.body[:200]}")


class EmailSink:
    """Email through an SMTP server (STARTTLS and login when configured)."""

    name = "email"

    def __init__(self, config: AlertConfig) -> None:
        self._config = config

    def send(self, notice: Notice) -> None:
        config = self._config
        message = EmailMessage()
        message["Subject"] = headline(notice)
        message["From"] = config.email_from
        message["To"] = ", ".join(config.email_to)
        message.set_content(body(notice))
        try:
            with smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=TIMEOUT_SECONDS) as smtp:
                if config.smtp_starttls:
                    smtp.starttls()
                if config.smtp_user:
                    smtp.login(config.smtp_user, config.smtp_password or "")
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as error:
            raise SinkError(f"email via {config.smtp_host}:{config.smtp_port}: {error}") from error


def configured_sinks(config: AlertConfig) -> list[Sink]:
    sinks: list[Sink] = []
    if config.webhook_url:
        sinks.append(WebhookSink(config.webhook_url))
    if config.smtp_host:
        sinks.append(EmailSink(config))
    return sinks
