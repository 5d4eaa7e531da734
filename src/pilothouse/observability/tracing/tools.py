"""``execute_tool {tool}`` spans and tool metrics, as wrappers at the tool boundary.

:class:`ObservedGateway` wraps a run's :class:`~pilothouse.runtime.tools.base.ToolGateway`:
for each call of a batch it opens an ``execute_tool`` span under the run's span and puts
that span in the call's ``traceparent``, so every attempt the adapter sends names it and
the tool server's spans join the trace beneath it. When the batch returns, each span
gets the call's outcome (``error.type`` = the gateway's error code), attempt count and
idempotency key, and the call is counted (latency, errors and retries by tool).

:class:`AttemptEvents` wraps one tool's adapter (innermost, where each attempt reaches the
tool) and adds an ``attempt`` event to the call's span per attempt, with its number,
duration and outcome — so retries are visible inside the span. It finds the span through
the call's ``traceparent`` (:meth:`Telemetry.span_for`).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from pilothouse.observability.telemetry import Telemetry
from pilothouse.observability.tracing import attributes as attr
from pilothouse.runtime.tools.base import (
    RunToolBudget,
    ToolAdapter,
    ToolCall,
    ToolFailure,
    ToolGateway,
    ToolResult,
)


class ObservedGateway:
    """A run's tool gateway whose calls are traced and counted. See the module docstring.

    Args:
        inner: The gateway.
        telemetry: Where spans and metrics go.
        parent: The context of the run's span (None: tracing off or no parent).
    """

    def __init__(self, inner: ToolGateway, telemetry: Telemetry, parent: Context | None) -> None:
        self.inner = inner
        self._telemetry = telemetry
        self._parent = parent

    async def execute(self, calls: list[ToolCall], budget: RunToolBudget) -> list[ToolResult]:
        """Run the batch with one span per call."""
        spans = [self._start(call) for call in calls]
        started = time.perf_counter()
        try:
            results = await self.inner.execute(calls, budget)
        except BaseException as exc:
            for span in spans:
                self._abandon(span, exc)
            raise
        for span, result in zip(spans, results, strict=True):
            self._finish(span, result, time.perf_counter() - started)
        return results

    async def aclose(self) -> None:
        """The gateway is shared by every run; a run does not close it."""

    def _start(self, call: ToolCall) -> Span | None:
        tracer = self._telemetry.tracer
        if tracer is None:
            return None
        span = tracer.start_span(
            f"execute_tool {call.name}",
            context=self._parent,
            kind=SpanKind.INTERNAL,
            attributes={
                attr.OPERATION: "execute_tool",
                attr.TOOL_NAME: call.name,
                attr.TOOL_CALL_ID: call.call_id,
                attr.TOOL_TYPE: "extension",
                attr.IDEMPOTENCY_KEY: call.idempotency_key,
                attr.RUN_ID: call.run_id,
            },
        )
        arguments = self._telemetry.content_json(call.arguments)
        if arguments is not None:
            span.set_attribute(attr.TOOL_ARGUMENTS, arguments)
        call.headers = {**call.headers, "traceparent": attr.traceparent(span)}
        self._telemetry.opened(span)
        return span

    def _finish(self, span: Span | None, result: ToolResult, batch_s: float) -> None:
        code = result.error["code"] if result.error else None
        # Calls refused before dispatch report no latency: count the batch's instead.
        seconds = result.latency_s or (0.0 if code else batch_s)
        self._telemetry.metrics.tool_call(result.call.name, code, result.attempts, seconds)
        if span is None:
            return
        span.set_attribute(attr.ATTEMPTS, result.attempts)
        if result.error is not None:
            span.set_attribute(attr.ERROR_TYPE, result.error["code"])
            message = self._telemetry.safe_text(result.error["message"])
            span.set_status(Status(StatusCode.ERROR, message))
        else:
            captured = self._telemetry.content_json(result.output)
            if captured is not None:
                span.set_attribute(attr.TOOL_RESULT, captured)
        self._telemetry.closed(span)
        span.end()

    def _abandon(self, span: Span | None, exc: BaseException) -> None:
        if span is None:
            return
        span.set_attribute(attr.ERROR_TYPE, type(exc).__name__)
        span.set_status(Status(StatusCode.ERROR))
        self._telemetry.closed(span)
        span.end()


class AttemptEvents:
    """An adapter whose attempts become events on their call's span."""

    def __init__(self, inner: ToolAdapter, telemetry: Telemetry) -> None:
        self._inner = inner
        self._telemetry = telemetry

    async def invoke(self, call: ToolCall, timeout_s: float) -> Any:
        """One attempt, reported on the call's span."""
        span = self._telemetry.span_for(call.headers)
        if span is None:
            return await self._inner.invoke(call, timeout_s)
        started = time.perf_counter()
        outcome = "ok"
        try:
            return await self._inner.invoke(call, timeout_s)
        except ToolFailure as failure:
            outcome = failure.code
            raise
        except asyncio.CancelledError:
            outcome = "timeout_or_cancelled"
            raise
        except Exception as exc:
            outcome = type(exc).__name__
            raise
        finally:
            span.add_event(
                "attempt",
                {
                    "pilothouse.attempt": call.attempt,
                    "pilothouse.attempt.outcome": outcome,
                    "pilothouse.attempt.duration_s": time.perf_counter() - started,
                },
            )

    async def aclose(self) -> None:
        """Close the inner adapter."""
        await self._inner.aclose()
