"""The ASGI middleware that gives every request to the scoring API (/v1/) an id (echoed in the
X-Request-ID response header, and the key joining the audit log's requests to its scores) and logs
it with its status, latency and, for an error, the JSON error body. Probes and scrapes (/healthz,
/readyz, /metrics) are not logged."""

from __future__ import annotations

import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.audit import AuditLog

LOGGED_PREFIX = "/v1/"
MAX_ERROR_BYTES = 4096


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp, audit: AuditLog) -> None:
        self.app, self.audit = app, audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(LOGGED_PREFIX):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        status, error = 500, bytearray()

        async def logged_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                header = (b"x-request-id", request_id.encode())
                message = {**message, "headers": [*message.get("headers", []), header]}
            elif message["type"] == "http.response.body" and status >= 400 and len(error) < MAX_ERROR_BYTES:
                error.extend(message.get("body", b"")[: MAX_ERROR_BYTES - len(error)])
            await send(message)

        try:
            await self.app(scope, receive, logged_send)
        finally:
            self.audit.log_request(
                request_id=request_id,
                method=scope["method"],
                path=scope["path"],
                status=status,
                latency_ms=(time.perf_counter() - started) * 1000,
                payments=state.get("payments"),
                model_version=state.get("model_version"),
                error=error.decode("utf-8", "replace") if error else None,
                token_id=state.get("token_id"),
            )
