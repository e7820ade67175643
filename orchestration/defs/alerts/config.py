"""What alerts are sent to, read from the environment once per sensor tick. Nothing configured: no
sink, alerts are off. Secrets (the webhook URL, the SMTP password) come only from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

# The Dagster UI the alerts link to (`make dev` serves it here).
DEFAULT_UI_URL = "http://127.0.0.1:3000"
VARIABLES = {
    "webhook_url": "ALERT_WEBHOOK_URL",  # a Slack incoming webhook, or anything taking its JSON
    "smtp_host": "ALERT_SMTP_HOST",
    "smtp_port": "ALERT_SMTP_PORT",  # default 25; 587 with ALERT_SMTP_STARTTLS=true
    "smtp_starttls": "ALERT_SMTP_STARTTLS",
    "smtp_user": "ALERT_SMTP_USER",
    "smtp_password": "ALERT_SMTP_PASSWORD",
    "email_from": "ALERT_EMAIL_FROM",
    "email_to": "ALERT_EMAIL_TO",  # comma-separated
    "ui_url": "DAGSTER_UI_URL",
}


class AlertConfigError(ValueError):
    """An alert setting that cannot work, named with its variable."""


@dataclass(frozen=True)
class AlertConfig:
    webhook_url: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_user: str | None = None
    smtp_password: str | None = None
    email_from: str = "warehouse-alerts@localhost"
    email_to: tuple[str, ...] = ()
    ui_url: str = DEFAULT_UI_URL

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> AlertConfig:
        values = os.environ if environ is None else environ
        raw = {field: (values.get(name) or "").strip() for field, name in VARIABLES.items()}
        port = raw["smtp_port"] or "25"
        if not port.isdigit():
            raise AlertConfigError(f"{VARIABLES['smtp_port']}={port!r}: a port number")
        recipients = tuple(address.strip() for address in raw["email_to"].split(",") if address.strip())
        if raw["smtp_host"] and not recipients:
            raise AlertConfigError(
                f"{VARIABLES['smtp_host']} is set but {VARIABLES['email_to']} is empty: "
                "name who receives the alerts (comma-separated addresses)"
            )
        return cls(
            webhook_url=raw["webhook_url"] or None,
            smtp_host=raw["smtp_host"] or None,
            smtp_port=int(port),
            smtp_starttls=raw["smtp_starttls"].lower() in ("1", "true", "yes"),
            smtp_user=raw["smtp_user"] or None,
            smtp_password=raw["smtp_password"] or None,
            email_from=raw["email_from"] or cls.email_from,
            email_to=recipients,
            ui_url=(raw["ui_url"] or DEFAULT_UI_URL).rstrip("/"),
        )
