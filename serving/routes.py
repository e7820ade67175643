"""The endpoints: score, liveness, readiness and the Prometheus scrape."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response
from starlette.exceptions import HTTPException

from serving.audit import AuditLog
from serving.batching import ScoringQueue
from serving.hotswap import ModelHolder, NotReadyError
from serving.metrics import ServingMetrics
from serving.problems import invalid_request
from serving.schemas import (
    ErrorResponse,
    FieldError,
    Health,
    Payment,
    PaymentBatch,
    Readiness,
    ScoreRequest,
    ScoreResponse,
    payments_of,
)

RETRY_AFTER_SECONDS = "5"
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "The body is not UTF-8, or Content-Length is malformed"},
    401: {"model": ErrorResponse, "description": "No valid bearer token (when tokens are configured)"},
    403: {"model": ErrorResponse, "description": "The token lacks the `score` scope"},
    413: {"model": ErrorResponse, "description": "The body is larger than the limit"},
    415: {"model": ErrorResponse, "description": "The body is not application/json"},
    422: {
        "model": ErrorResponse,
        "description": "The body is not valid, or a payment is older than the online features cover: "
        "field paths and reasons",
    },
    429: {"model": ErrorResponse, "description": "The token's rate limit is exceeded: see Retry-After"},
    503: {"model": ErrorResponse, "description": "The model is still loading"},
}


def too_old(payments: list[Payment], complete_from: datetime | None, batch: bool) -> list[FieldError]:
    """The payments older than the online feature store's complete windows: their velocity features
    would count only part of the window, so they are refused, never scored on incomplete features."""
    if complete_from is None:
        return []
    return [
        FieldError(
            field=f"payments[{number}].paid_at" if batch else "paid_at",
            reason=f"{payment.paid_at_utc:%Y-%m-%dT%H:%M:%S}Z is before {complete_from:%Y-%m-%dT%H:%M:%S}Z, "
            "the oldest time the online features are complete for: score it in the batch path",
        )
        for number, payment in enumerate(payments)
        if payment.paid_at_utc < complete_from
    ]


def score_path(model_name: str) -> str:
    return f"/v1/models/{model_name}/score"


def build_router(
    model_name: str, holder: ModelHolder, queue: ScoringQueue, metrics: ServingMetrics, audit: AuditLog
) -> APIRouter:
    router = APIRouter()

    @router.post(score_path(model_name), response_model=ScoreResponse, responses=ERRORS)
    async def score(body: Annotated[ScoreRequest, Body()], request: Request) -> Response:
        """Score one payment (a Payment object) or a batch (`{"payments": [...]}`, 1 to 100)."""
        payments = payments_of(body)
        model = holder.current
        stale = too_old(payments, model.complete_from if model else None, isinstance(body, PaymentBatch))
        if stale:
            return invalid_request(stale)
        try:
            model, results = await queue.score(payments)
        except NotReadyError as exc:
            raise HTTPException(503, str(exc), headers={"Retry-After": RETRY_AFTER_SECONDS}) from exc
        request.state.payments, request.state.model_version = len(payments), model.info.version
        metrics.observe_scores(model.info.name, results)
        audit.log_scores(request.state.request_id, payments, results)
        # serialized here: the results are built by the API itself, validating them again is waste
        return Response(ScoreResponse(results=results).model_dump_json(), media_type="application/json")

    @router.get("/healthz")
    async def healthz() -> Health:
        """The process is up (it may still be loading the model)."""
        return Health(status="ok")

    @router.get("/readyz", responses={503: {"model": Readiness, "description": "Still loading"}})
    async def readyz(response: Response) -> Readiness:
        """Ready once a model and its features are loaded."""
        model = holder.current
        if model is None:
            response.status_code = 503
            return Readiness(status="loading", model_name=model_name, model_version=None)
        return Readiness(status="ready", model_name=model.info.name, model_version=model.info.version)

    @router.get(
        "/metrics",
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
    )
    async def prometheus() -> Response:
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    return router
