"""A stand-in for the served model (serving.hotswap.ServingModel) and a payment factory: the
API, the hot swap, the audit log and the metrics are tested without a trained warehouse."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from serving.app import create_app
from serving.hotswap import ModelInfo
from serving.schemas import Payment, PaymentScore
from serving.settings import ServingSettings

SCORE_PATH = "/v1/models/payment_fraud/score"
THRESHOLD = 0.5


def payment_json(**overrides: Any) -> dict[str, Any]:
    """A valid request payment (JSON), as the warehouse's values look."""
    body: dict[str, Any] = {
        "payment_id": "pay_0123456789abcdef",
        "paid_at": "2026-02-01T10:00:00Z",
        "customer_id": "C12345",
        "card_fingerprint": "ab" * 32,
        "device_id": "dev_0123456789abcdef",
        "amount_usd": 120.5,
        "channel": "online",
        "merchant_category_code": "5651",
        "ip_country": "US",
        "is_authorized": True,
    }
    body.update(overrides)
    return body


class FakeModel:
    """Scores amount_usd / 1000 (capped at 1); flags at THRESHOLD; remembers what it recorded."""

    def __init__(self, version: int = 1, held: set[str] | None = None, complete_from=None) -> None:
        self.info = ModelInfo("payment_fraud", version, THRESHOLD, "fake")
        self.complete_from = complete_from  # None: every paid_at is covered
        self.held = held or set()  # payment ids "in the snapshot"
        self.recorded: list[str] = []
        self.lock = threading.Lock()

    def score(self, payments: Sequence[Payment]) -> list[PaymentScore]:
        results = []
        for payment in payments:
            score = min(payment.amount_usd / 1000, 1.0)
            results.append(
                PaymentScore(
                    payment_id=payment.payment_id,
                    score=score,
                    is_flagged=score >= THRESHOLD,
                    operating_threshold=THRESHOLD,
                    model_name=self.info.name,
                    model_version=self.info.version,
                    reason_codes=["amount_usd"] if score >= THRESHOLD else None,
                )
            )
        return results

    def record(self, payments: Sequence[Payment]) -> None:
        with self.lock:
            self.recorded.extend(payment.payment_id for payment in payments)

    def not_in_snapshot(self, payments: Sequence[Payment]) -> list[Payment]:
        return [payment for payment in payments if payment.payment_id not in self.held]


def settings_for(root: Path, **overrides: Any) -> ServingSettings:
    snapshot = root / "analytics.duckdb"
    root.mkdir(parents=True, exist_ok=True)
    if not snapshot.exists():
        snapshot.write_bytes(b"snapshot 1")  # the fakes never open it; its identity is what counts
    values: dict[str, Any] = {
        "snapshot": snapshot,
        "models_dir": root / "models",
        "log_dir": root / "serving_log",
        "poll_seconds": 0.02,
        **overrides,
    }
    return ServingSettings(**values)


def fake_app(root: Path, load: Callable[[], FakeModel] | None = None, **overrides: Any):
    return create_app(settings_for(root, **overrides), load=load or FakeModel)


def wait_ready(client, timeout: float = 10.0) -> None:
    """Until /readyz says ready (the first load runs in the background)."""
    import time

    deadline = time.monotonic() + timeout
    while client.get("/readyz").status_code != 200:
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not become ready")
        time.sleep(0.01)


def send_case(client, case, token: str | None = None):
    """A schemathesis case sent through the test's own client. schemathesis' ASGI transport would
    run a second lifespan of the same app on an event loop of its own, two watchers and audit
    writers sharing one app's state; shutting that second one down hung a test run."""
    kwargs = case.as_transport_kwargs()
    body: dict[str, Any] = {}
    if "json" in kwargs:
        body["json"] = kwargs["json"]
    elif isinstance(kwargs.get("data"), bytes | str):
        body["content"] = kwargs["data"]
    elif kwargs.get("data") is not None:
        body["data"] = kwargs["data"]
    headers = dict(kwargs.get("headers") or {})
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return client.request(
        kwargs["method"], kwargs["url"], params=kwargs.get("params"), headers=headers, **body
    )
