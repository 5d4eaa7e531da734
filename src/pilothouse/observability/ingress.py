"""Ingress observation: the server span, request metrics, an access log line, and the
correlation ids every log line of the request carries.

:class:`IngressObserver` is a pure ASGI middleware placed inside
:class:`~pilothouse.api.correlation.CorrelationMiddleware`, which has accepted or minted
the ids. With tracing on it opens a SERVER span whose parent is the client's
``traceparent`` (when one came) and replaces the request's ``traceparent`` with the one
naming this span: every model and tool call downstream then nests under it, and the
client gets it back in the response header. It counts the request by method, route
template and status, observes its latency, and logs one ``request`` line at INFO.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pilothouse.observability.logs import CORRELATION
from pilothouse.observability.telemetry import Telemetry
from pilothouse.observability.tracing import attributes as attr

log = logging.getLogger("pilothouse.access")


class IngressObserver:
    """See the module docstring."""

    def __init__(self, app: ASGIApp, telemetry: Telemetry) -> None:
        self.app = app
        self.telemetry = telemetry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        span = self._start(scope, state)
        token = CORRELATION.set((state.get("request_id", ""), state.get("traceparent", "")))
        started = time.perf_counter()
        status = 500

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            self._finish(scope, span, status, time.perf_counter() - started)
            CORRELATION.reset(token)
            self.telemetry.backlog.flush_soon()  # answered: finish its spans while the client reads

    def _start(self, scope: Scope, state: dict[str, Any]) -> Span | None:
        tracer = self.telemetry.tracer
        if tracer is None:
            return None
        method = scope["method"]
        incoming = state.get("incoming_traceparent") or ""
        span = tracer.start_span(
            f"{method} {scope['path']}",
            context=attr.parent_context({"traceparent": incoming}),
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": method,
                "url.path": scope["path"],
                attr.REQUEST_ID: state.get("request_id", ""),
            },
        )
        state["traceparent"] = attr.traceparent(span)
        self.telemetry.opened(span)
        return span

    def _finish(self, scope: Scope, span: Span | None, status: int, seconds: float) -> None:
        method = scope["method"]
        route = _route(scope)
        self.telemetry.metrics.request_finished(method, route, status, seconds)
        if log.isEnabledFor(logging.INFO):
            log.info(
                "request",
                extra={"method": method, "route": route, "status": status, "duration_s": seconds},
            )
        if span is None:
            return
        span.update_name(f"{method} {route}")
        span.set_attribute("http.route", route)
        span.set_attribute("http.response.status_code", status)
        if status >= 500:
            span.set_attribute(attr.ERROR_TYPE, str(status))
            span.set_status(Status(StatusCode.ERROR))
        self.telemetry.closed(span)
        span.end()


def _route(scope: Scope) -> str:
    """The matched route's template (``/v1/responses/{response_id}``), so that ids never
    become label values; ``unmatched`` for 404s outside any route."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"
