"""The request envelope, checked before FastAPI reads the body: a JSON media type (415 otherwise),
a bounded size (413), measured on the bytes received, not only on the Content-Length header, and
UTF-8 text (400 otherwise, naming the first bad byte: JSON on the wire is UTF-8, RFC 8259)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.problems import send_error


def is_json(content_type: str) -> bool:
    """application/json, with or without parameters (charset)."""
    return content_type.split(";", 1)[0].strip().lower() == "application/json"


class RequestGuard:
    """Guards POST requests to `paths` (the endpoints taking a JSON body); any other request goes
    straight to the router (a 404, or a 405 for a method the path does not take)."""

    def __init__(self, app: ASGIApp, paths: frozenset[str], max_body_bytes: int) -> None:
        self.app, self.paths, self.max_body_bytes = app, paths, max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        headers = {name.lower(): value for name, value in scope["headers"]}
        content_type = headers.get(b"content-type", b"").decode("latin-1")
        if not is_json(content_type):
            shown = content_type or "none"
            await send_error(send, 415, f"Content-Type must be application/json, got {shown}")
            return
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await send_error(send, 400, "Content-Length is not a non-negative integer")
                return
            if int(declared) > self.max_body_bytes:
                await send_error(send, 413, self._too_large(f"{int(declared)} bytes"))
                return
        body = await self._read(receive)
        if body is None:
            await send_error(send, 413, self._too_large(f"more than {self.max_body_bytes} bytes"))
            return
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            await send_error(send, 400, f"the body is not UTF-8: invalid byte at position {exc.start}")
            return
        await self.app(scope, _replay(body, receive), send)

    def _too_large(self, size: str) -> str:
        return f"the request body ({size}) exceeds the limit of {self.max_body_bytes} bytes"

    async def _read(self, receive: Receive) -> bytes | None:
        """The whole body, or None as soon as it passes the limit."""
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive channel giving the body already read, then what the client sends next (disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
