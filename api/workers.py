"""Which worker answered: ``X-Muscall-Worker`` (its process id) and ``X-Index-Generation`` on every response.

``muscall serve --workers N`` runs N processes behind one port; these headers tell a client (or a test, or an
operator reading logs) which process served a request and which save of the index it searched.
"""

from __future__ import annotations

import os

from starlette.types import Message, Receive, Scope, Send

from api.asgi import HttpMiddleware

WORKER_HEADER = "X-Muscall-Worker"
GENERATION_HEADER = "X-Index-Generation"


class WorkerHeaderMiddleware(HttpMiddleware):
    """Add the worker's pid and the open index generation to each response's headers."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_worker(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [(WORKER_HEADER.lower().encode(), str(os.getpid()).encode())]
                service = getattr(scope["app"].state, "service", None) if "app" in scope else None
                if service is not None:
                    extra.append((GENERATION_HEADER.lower().encode(), str(service.live.generation).encode()))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_worker)
