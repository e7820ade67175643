"""Prometheus metrics of one app (its own CollectorRegistry, so two apps in a process, as in the
tests, never share counters), and the ASGI middleware that times and counts every request.

Latency buckets are fine below 10 ms, the API's p99 target."""

from __future__ import annotations

import time
from collections.abc import Sequence

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.schemas import PaymentScore

LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.002,
    0.003,
    0.004,
    0.005,
    0.0075,
    0.01,
    0.015,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)
UNMATCHED = "unmatched"  # the endpoint label of a path no route matched (bounded label values)


class ServingMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "scoring_api_requests",
            "HTTP requests, by route template, method and status code",
            ["endpoint", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "scoring_api_request_duration_seconds",
            "Time from the request's arrival until its response was sent",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.model_version = Gauge(
            "scoring_api_model_version",
            "Version of the model being served",
            ["model_name"],
            registry=self.registry,
        )
        self.scored = Counter(
            "scoring_api_payments_scored", "Payments scored", ["model_name"], registry=self.registry
        )
        self.flagged = Counter(
            "scoring_api_payments_flagged",
            "Payments scored at or above the operating threshold",
            ["model_name"],
            registry=self.registry,
        )
        self.batch_payments = Histogram(
            "scoring_api_batch_payments",
            "Payments per scoring call (concurrent requests are scored together, serving/batching.py)",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
            registry=self.registry,
        )
        self.model_loads = Counter(
            "scoring_api_model_loads",
            "Loads of a published snapshot (model and features), by outcome (loaded, failed)",
            ["outcome"],
            registry=self.registry,
        )

        self.token_requests = Counter(
            "scoring_api_token_requests",
            "Requests to authenticated routes by token (its hashed id; `none`: no valid token) and "
            "decision (accepted, unauthenticated, forbidden, rate_limited)",
            ["token", "decision"],
            registry=self.registry,
        )
        self.token_rate_limit = Gauge(
            "scoring_api_token_rate_limit_per_second",
            "The rate limit of each token seen, by its hashed id",
            ["token"],
            registry=self.registry,
        )

        self.journal_dropped = Counter(
            "scoring_api_journal_dropped",
            "Payments dropped from the hot-swap replay journal, by bound (count, age)",
            ["reason"],
            registry=self.registry,
        )

    def token_decision(self, hash_id: str, decision: str, rate_per_second: float | None = None) -> None:
        self.token_requests.labels(hash_id, decision).inc()
        if rate_per_second is not None:
            self.token_rate_limit.labels(hash_id).set(rate_per_second)

    def observe_scores(self, model_name: str, results: Sequence[PaymentScore]) -> None:
        self.scored.labels(model_name).inc(len(results))
        flagged = sum(result.is_flagged for result in results)
        if flagged:
            self.flagged.labels(model_name).inc(flagged)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """Counts and times every HTTP request under its route template (`/v1/models/payment_fraud/score`,
    never a raw path, so label values stay bounded) and reports the time in a Server-Timing header."""

    def __init__(self, app: ASGIApp, metrics: ServingMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # if the app fails before it answers

        async def timed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                elapsed_ms = (time.perf_counter() - started) * 1000
                timing = (b"server-timing", f"app;dur={elapsed_ms:.3f}".encode())
                message = {**message, "headers": [*message.get("headers", []), timing]}
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            route = scope.get("route")
            endpoint = getattr(route, "path", UNMATCHED)
            self.metrics.latency.labels(endpoint).observe(time.perf_counter() - started)
            self.metrics.requests.labels(endpoint, scope["method"], str(status)).inc()
