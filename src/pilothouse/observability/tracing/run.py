"""``invoke_agent {agent}`` spans and run metrics: the observer of agent runs.

:class:`TracedRuns` implements the runtime's
:class:`~pilothouse.runtime.agent.observer.RunObserver`. For each run it opens the
``invoke_agent`` span under the span the run's ``traceparent`` names (the server span),
puts that span in the run's correlation headers (so model and tool calls nest under it),
and wraps the run's model (:class:`ObservedProvider`, priced) and gateway
(:class:`ObservedGateway`). When the run ends, the span gets the run's totals — usage,
cost, steps, tool calls, status, the limit that ended it — and the run is counted.
"""

from __future__ import annotations

import asyncio
import time

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from pilothouse.control.pricing import ModelPrice
from pilothouse.observability.telemetry import Telemetry
from pilothouse.observability.tracing import attributes as attr
from pilothouse.observability.tracing.model import ObservedProvider, error_type
from pilothouse.observability.tracing.tools import ObservedGateway
from pilothouse.runtime.agent.executor import BoundModel
from pilothouse.runtime.agent.observer import RunObservation
from pilothouse.runtime.agent.state import RunState
from pilothouse.runtime.tools.base import ToolGateway


class TracedRuns:
    """Observes agent runs for ``telemetry``. See the module docstring."""

    def __init__(self, telemetry: Telemetry) -> None:
        self.telemetry = telemetry

    def observe(
        self, state: RunState, model: BoundModel, gateway: ToolGateway, price: ModelPrice | None
    ) -> RunObservation:
        """Open the run's span and wrap its model and gateway."""
        span = self._start(state, model)
        parent = trace.set_span_in_context(span) if span is not None else None
        observed_model = BoundModel(
            ObservedProvider(model.provider, self.telemetry, price),
            model.upstream_model,
            model.public_model,
        )
        return ObservedRun(
            self.telemetry,
            span,
            observed_model,
            ObservedGateway(gateway, self.telemetry, parent),
        )

    def _start(self, state: RunState, model: BoundModel) -> Span | None:
        tracer = self.telemetry.tracer
        if tracer is None:
            return None
        agent = state.agent
        attributes = {
            attr.OPERATION: "invoke_agent",
            attr.AGENT_NAME: agent.name,
            attr.AGENT_ID: f"{agent.name}@{agent.version}",
            attr.PROVIDER: model.provider.name,
            attr.SYSTEM: model.provider.name,
            attr.REQUEST_MODEL: model.public_model,
            attr.RESPONSE_ID: state.run_id,
            attr.RUN_ID: state.run_id,
            attr.REQUEST_ID: state.headers.get("x-request-id", ""),
        }
        if state.release_id is not None:  # a bundle served from a directory has none
            attributes[attr.RELEASE_ID] = state.release_id
        if state.environment is not None:
            attributes[attr.ENVIRONMENT] = state.environment
        span = tracer.start_span(
            f"invoke_agent {agent.name}",
            context=self.telemetry.parent_for(state.headers),
            kind=SpanKind.INTERNAL,
            attributes=attributes,
        )
        state.headers["traceparent"] = attr.traceparent(span)
        self.telemetry.opened(span)
        return span


class ObservedRun:
    """One run being observed."""

    def __init__(
        self, telemetry: Telemetry, span: Span | None, model: BoundModel, gateway: ToolGateway
    ) -> None:
        self.model = model
        self.gateway = gateway
        self._telemetry = telemetry
        self._span = span
        self._started = time.perf_counter()

    def end(self, state: RunState, error: BaseException | None) -> None:
        """Record the run's totals on its span and in the metrics."""
        status = _status(state, error)
        limit = state.incomplete_reason if status == "incomplete" else None
        self._telemetry.metrics.run_finished(
            state.agent.name, status, time.perf_counter() - self._started, state.cost_usd, limit
        )
        span = self._span
        if span is None:
            return
        attributes: dict[str, AttributeValue] = {
            attr.STATUS: status,
            attr.INPUT_TOKENS: state.input_tokens,
            attr.OUTPUT_TOKENS: state.output_tokens,
            attr.COST_USD: state.cost_usd,
            attr.STEPS: state.step,
            attr.TOOL_CALLS: state.tool_calls,
            attr.RESPONSE_MODEL: self.model.public_model,
        }
        if limit is not None:
            attributes[attr.LIMIT] = limit
        if status in ("failed", "cancelled"):
            attributes[attr.ERROR_TYPE] = error_type(error) if error else status
            span.set_status(Status(StatusCode.ERROR))
        span.set_attributes(attributes)
        self._telemetry.closed(span)
        span.end()


def _status(state: RunState, error: BaseException | None) -> str:
    if isinstance(error, asyncio.CancelledError | GeneratorExit):
        return "cancelled"
    if error is not None:
        return "failed"
    return state.status or "completed"
