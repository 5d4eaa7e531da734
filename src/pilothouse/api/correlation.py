"""Correlation ids at ingress: ``X-Request-ID`` and W3C ``traceparent``.

Both are accepted from the client or minted, handed to the handler through the ASGI
scope, forwarded to upstream calls, and returned in the response headers. The client's
own ``traceparent`` is kept as ``incoming_traceparent`` for the tracing middleware
(``observability/ingress.py``), which makes it the parent of the server span. This is a
pure ASGI middleware: it adds two headers and allocates nothing per body chunk.
"""

from __future__ import annotations

import os
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

TRACEPARENT = re.compile(rb"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


def new_request_id() -> str:
    """A fresh request id."""
    return "req_" + os.urandom(16).hex()


def child_traceparent(incoming: bytes | None) -> str:
    """A traceparent for our span: the caller's trace id (or a new one), a new span id."""
    match = TRACEPARENT.match(incoming or b"")
    trace_id = match.group(1).decode() if match else os.urandom(16).hex()
    flags = match.group(3).decode() if match else "01"
    return f"00-{trace_id}-{os.urandom(8).hex()}-{flags}"


class CorrelationMiddleware:
    """Puts ``request_id`` and ``traceparent`` into ``scope["state"]`` and the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id: bytes | None = None
        traceparent: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"x-request-id" and 0 < len(value) <= 128:
                request_id = value
            elif name == b"traceparent":
                traceparent = value
        rid = request_id.decode("latin-1") if request_id else new_request_id()
        tp = child_traceparent(traceparent)
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = rid
        state["traceparent"] = tp
        if traceparent is not None:
            state["incoming_traceparent"] = traceparent.decode("latin-1")

        async def send_with_ids(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Read at response time: a tracing middleware inside may have replaced the
                # traceparent with the one naming its server span.
                extra = [
                    (b"x-request-id", rid.encode("latin-1")),
                    (b"traceparent", state["traceparent"].encode("latin-1")),
                ]
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, send_with_ids)
