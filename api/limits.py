"""Request-body size limit enforced while the body streams in (not after it was buffered).

A declared ``Content-Length`` above the limit is refused before a byte is read; a body without one (chunked)
is counted chunk by chunk and refused as soon as it passes the limit, so an oversized upload never reaches
the multipart parser's temp file in full.
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.asgi import HttpMiddleware


class BodyTooLarge(HTTPException):
    """413, raised from ``receive`` when the streamed body passes the limit."""

    def __init__(self, limit: int):
        super().__init__(413, f"the request body is larger than this server accepts ({limit / 1048576:.1f} MiB, "
                              "serve.max_upload_mb); send a shorter or more compressed clip")


class BodyLimitMiddleware(HttpMiddleware):
    """413 JSON for bodies above ``limit`` bytes."""

    def __init__(self, app: ASGIApp, limit: int):
        super().__init__(app)
        self.limit = limit

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await _reply_413(send, BodyTooLarge(self.limit).detail)
            return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge as exc:  # raised where no exception handler turned it into a response
            if started:
                raise
            await _reply_413(send, exc.detail)


def _content_length(scope: Scope) -> int | None:
    """The declared body size, or None when absent or not a number."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _reply_413(send: Send, detail: str) -> None:
    """Send a complete 413 JSON response (the connection is closed so the unread body is dropped)."""
    body = json.dumps({"detail": detail, "errors": None}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
