"""The ASGI app: `create_app(settings)` wires the model holder, the snapshot watcher, the audit log
and the metrics; the lifespan starts the watcher (the first load happens in the background, so
/healthz answers at once and /readyz says 503 until the model is loaded) and flushes the audit log
at shutdown."""

from __future__ import annotations

import asyncio
import functools
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from serving.audit import AuditLog
from serving.auth import AuthGuard, token_store
from serving.batching import ScoringQueue
from serving.guards import RequestGuard
from serving.hotswap import Loader, ModelHolder, ServingModel, SnapshotWatcher
from serving.metrics import MetricsMiddleware, ServingMetrics
from serving.problems import on_http_error, on_unexpected_error, on_validation_error
from serving.request_log import RequestLogMiddleware
from serving.routes import build_router, score_path
from serving.settings import ServingSettings


def create_app(settings: ServingSettings, load: Loader | None = None) -> FastAPI:
    """The app serving `settings.model_name`; `load` builds the model from the published snapshot
    (default: the champion and the online feature store, serving/scorer.py)."""
    if load is None:
        # imported here: LightGBM and the feature store are needed only to serve the real model
        from serving.scorer import load_scorer

        load = functools.partial(load_scorer, settings)
    tokens = token_store(
        settings.tokens_file, settings.tokens_inline, settings.rate_per_second, settings.rate_burst
    )
    metrics = ServingMetrics()
    audit = AuditLog(
        settings.log_dir, settings.pii_salt, settings.audit_flush_rows, settings.audit_flush_seconds
    )
    holder = ModelHolder(
        settings.journal_max_payments,
        timedelta(days=settings.journal_max_days),
        on_dropped=lambda reason, payments: metrics.journal_dropped.labels(reason).inc(payments),
    )

    def loaded(model: ServingModel) -> None:
        # The feature state is hundreds of thousands of long-lived objects: a full collection of
        # the cyclic garbage collector walks them all (170 ms on the demo snapshot), stalling every
        # request in flight (it made the p99 latency 100 ms). Frozen, later collections skip them.
        gc.freeze()
        metrics.model_version.labels(model.info.name).set(model.info.version)
        metrics.model_loads.labels("loaded").inc()

    watcher = SnapshotWatcher(
        settings.snapshot,
        holder,
        load,
        settings.poll_seconds,
        on_loaded=loaded,
        on_failed=lambda _: metrics.model_loads.labels("failed").inc(),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(watcher.run()), asyncio.create_task(audit.run())]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await audit.close()

    app = FastAPI(
        title="Payment fraud scoring",
        version="1",
        description="Scores payments with the champion of the published snapshot.",
        lifespan=lifespan,
    )
    app.state.settings, app.state.holder, app.state.watcher = settings, holder, watcher
    app.state.metrics, app.state.audit, app.state.tokens = metrics, audit, tokens
    queue = ScoringQueue(holder, on_batch=metrics.batch_payments.observe)
    app.include_router(build_router(settings.model_name, holder, queue, metrics, audit))
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected_error)
    # the last added runs first: metrics see every request, the log every /v1/ one, then the token
    # is checked (before anything reads a body), then the body's envelope
    body_paths = frozenset({score_path(settings.model_name)})
    app.add_middleware(RequestGuard, paths=body_paths, max_body_bytes=settings.max_body_bytes)
    scoped = {score_path(settings.model_name): "score"}
    if settings.metrics_require_token:
        scoped["/metrics"] = "metrics"
    app.add_middleware(AuthGuard, store=tokens, scoped=scoped, metrics=metrics)
    app.add_middleware(RequestLogMiddleware, audit=audit)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app
