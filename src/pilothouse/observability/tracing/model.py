"""``chat {model}`` spans and model-call metrics, as a wrapper around a model provider.

:class:`ObservedProvider` is a :class:`~pilothouse.runtime.providers.base.ModelProvider`
around another. Per call it opens a ``chat`` span under the span the request's
``traceparent`` names (the server span of a plain request, the ``invoke_agent`` span of
an agent step), sends the upstream a ``traceparent`` naming the ``chat`` span, and on
the result sets usage, the response model and — when the caller knows the price — the
cost. Streamed and non-streamed calls end in the same :class:`ModelResult`, so both
record the same usage and cost. Metrics are recorded with tracing on or off.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from pilothouse.control.pricing import ModelPrice
from pilothouse.errors import PilothouseError
from pilothouse.observability.telemetry import Telemetry
from pilothouse.observability.tracing import attributes as attr
from pilothouse.runtime.providers.base import (
    ModelProvider,
    ModelRequest,
    ModelResult,
    StreamEvent,
)


class ObservedProvider:
    """A provider whose calls are traced and counted. See the module docstring.

    Args:
        inner: The provider to observe.
        telemetry: Where spans and metrics go.
        price: The model's price, when known (agent runs): spans then carry the cost.
    """

    def __init__(
        self, inner: ModelProvider, telemetry: Telemetry, price: ModelPrice | None = None
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.raw_history = getattr(inner, "raw_history", False)
        self._telemetry = telemetry
        self._price = price

    async def complete(self, request: ModelRequest) -> ModelResult:
        """The inner call, inside a ``chat`` span."""
        span, request = self._start(request)
        started = time.perf_counter()
        try:
            result = await self.inner.complete(request)
        except BaseException as exc:
            self._failed(span, request, exc, started)
            raise
        self._finished(span, request, result, started)
        return result

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent | ModelResult]:
        """The inner stream, inside a ``chat`` span that ends with the result."""
        span, request = self._start(request)
        started = time.perf_counter()
        done = False
        try:
            async for event in self.inner.stream(request):
                if isinstance(event, ModelResult):
                    done = True
                    self._finished(span, request, event, started)
                yield event
        except BaseException as exc:
            if not done:
                done = True
                self._failed(span, request, exc, started)
            raise
        finally:
            if not done:  # the consumer stopped early
                self._failed(span, request, GeneratorExit(), started)

    async def count_input_tokens(self, request: ModelRequest) -> int:
        """Not a model call: not traced."""
        return await self.inner.count_input_tokens(request)

    async def aclose(self) -> None:
        """Close the inner provider."""
        await self.inner.aclose()

    # -- span and metrics ------------------------------------------------------------------

    def _start(self, request: ModelRequest) -> tuple[Span | None, ModelRequest]:
        tracer = self._telemetry.tracer
        if tracer is None:
            return None, request
        span = tracer.start_span(
            f"chat {request.model}",
            context=self._telemetry.parent_for(request.headers),
            kind=SpanKind.CLIENT,
            attributes={
                attr.OPERATION: "chat",
                attr.PROVIDER: self.name,
                attr.SYSTEM: self.name,
                attr.REQUEST_MODEL: request.model,
            },
        )
        captured = self._telemetry.content_json(request.input)
        if captured is not None:
            span.set_attribute(attr.INPUT_MESSAGES, captured)
            if request.instructions is not None:
                instructions = self._telemetry.content_json(request.instructions)
                span.set_attribute(attr.SYSTEM_INSTRUCTIONS, instructions or "")
        headers = {**request.headers, "traceparent": attr.traceparent(span)}
        return span, replace(request, headers=headers)

    def _finished(
        self, span: Span | None, request: ModelRequest, result: ModelResult, started: float
    ) -> None:
        usage = result.usage or {}
        self._telemetry.metrics.model_call(
            request.model, result.status, time.perf_counter() - started, usage
        )
        if span is None:
            return
        attributes: dict[str, AttributeValue] = {
            attr.RESPONSE_MODEL: result.model or request.model,
            attr.INPUT_TOKENS: int(usage.get("input_tokens") or 0),
            attr.OUTPUT_TOKENS: int(usage.get("output_tokens") or 0),
            attr.FINISH_REASONS: [_finish_reason(result)],
        }
        if self._price is not None:
            attributes[attr.COST_USD] = self._price.cost(usage)
        captured = self._telemetry.content_json(result.output)
        if captured is not None:
            attributes[attr.OUTPUT_MESSAGES] = captured
        if result.status == "failed":
            attributes[attr.ERROR_TYPE] = str((result.error or {}).get("code") or "failed")
            span.set_status(Status(StatusCode.ERROR))
        span.set_attributes(attributes)
        span.end()

    def _failed(
        self, span: Span | None, request: ModelRequest, exc: BaseException, started: float
    ) -> None:
        self._telemetry.metrics.model_call(
            request.model, "error", time.perf_counter() - started, None
        )
        if span is None:
            return
        span.set_attribute(attr.ERROR_TYPE, error_type(exc))
        span.set_status(Status(StatusCode.ERROR, self._telemetry.safe_text(_describe(exc))))
        span.end()


def error_type(exc: BaseException) -> str:
    """``error.type`` for an exception: our error code, else the class name."""
    if isinstance(exc, PilothouseError) and exc.code:
        return exc.code
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, GeneratorExit | asyncio.CancelledError):
        return "cancelled"
    return type(exc).__name__


def _describe(exc: BaseException) -> str:
    message: Any = getattr(exc, "message", None)
    return str(message) if message else type(exc).__name__


def _finish_reason(result: ModelResult) -> str:
    if result.status == "incomplete":
        return str((result.incomplete_details or {}).get("reason") or "incomplete")
    if any(item.get("type") == "function_call" for item in result.output):
        return "tool_calls"
    return "stop" if result.status == "completed" else result.status
