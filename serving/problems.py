"""Every error as a JSON body (schemas.ErrorResponse) naming the field and the reason, never the
offending value: it may be personal data, and a NaN could not even be written back as JSON."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException
from starlette.types import Send

from serving.schemas import ErrorResponse, FieldError

log = logging.getLogger(__name__)

ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
    500: "internal_error",
    503: "not_ready",
}
# the tags of the request body's union (schemas.ScoreRequest): not part of the path a client wrote
UNION_TAGS = ("payment", "batch")


def error_body(status: int, message: str, errors: Sequence[FieldError] = ()) -> bytes:
    code = ERROR_CODES.get(status, "error")
    return ErrorResponse(error=code, message=message, errors=list(errors)).model_dump_json().encode()


async def send_error(
    send: Send, status: int, message: str, headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    """The error as a whole response from an ASGI middleware, before any route runs."""
    body = error_body(status, message)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def error_response(status: int, message: str, errors: Sequence[FieldError] = ()) -> Response:
    return Response(error_body(status, message, errors), status_code=status, media_type="application/json")


def field_path(loc: Sequence[int | str]) -> str:
    """`("body", "batch", "payments", 3, "amount_usd")` -> `payments[3].amount_usd`."""
    parts = list(loc)
    if parts and parts[0] == "body":
        parts = parts[1:]
    if parts and parts[0] in UNION_TAGS:
        parts = parts[1:]
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def field_error(error: dict[str, Any]) -> FieldError:
    context = error.get("ctx") or {}
    if error["type"] == "json_invalid":  # loc is ("body", <character offset>)
        at = error["loc"][-1]
        return FieldError(
            field="", reason=f"the body is not valid JSON at character {at}: {context.get('error')}"
        )
    if error["type"] == "missing" and tuple(error["loc"]) == ("body",):
        return FieldError(field="", reason="a JSON body is required")
    if error["type"] == "value_error" and "error" in context:
        # our own validators' message, without pydantic's "Value error, " prefix
        return FieldError(field=field_path(error["loc"]), reason=str(context["error"]))
    return FieldError(field=field_path(error["loc"]), reason=str(error["msg"]))


def field_errors(exc: RequestValidationError) -> list[FieldError]:
    return [field_error(error) for error in exc.errors()]


def invalid_request(errors: Sequence[FieldError]) -> Response:
    """A 422 whose message is the first field error, and how many more there are."""
    first = errors[0]
    where = f"{first.field}: " if first.field else ""
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return error_response(422, f"{where}{first.reason}{more}", errors)


async def on_validation_error(_: Request, exc: RequestValidationError) -> Response:
    return invalid_request(field_errors(exc))


async def on_http_error(_: Request, exc: HTTPException) -> Response:
    response = error_response(exc.status_code, str(exc.detail))
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def on_unexpected_error(request: Request, exc: Exception) -> Response:
    """A bug, not bad input (validation runs first): logged with its traceback, answered in JSON."""
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal error; the request was not scored")
