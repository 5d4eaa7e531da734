"""Spans recorded as plain values and handed to the OpenTelemetry SDK after the request path.

The SDK's own spans do their bookkeeping as they go: a lock and attribute validation on
every ``set_attribute``, an event object per ``add_event``, tracer metrics, and on ``end``
the span processors. For the six spans and seven events of an agent run that came to about
0.3 ms of CPU, 15% of the run's own time at concurrency 1 (``bench/RESULTS.md``, session 6).

:class:`SpanRecorder` opens spans as an OpenTelemetry tracer's ``start_span`` does, but
its spans (:class:`RecordedSpan`, an implementation of the OpenTelemetry API's ``Span``)
only record: ids, timestamps, the attribute mapping, events as tuples. When one ends, the
process's :class:`~pilothouse.observability.backlog.Backlog` turns it into the SDK's
:class:`~opentelemetry.sdk.trace.ReadableSpan` — attributes and events bounded and
validated by the SDK's own ``BoundedAttributes`` under the usual span limits — and passes it
to the SDK tracer's span processors (the batch processor and its exporter). What is exported
is what the SDK's spans would have exported; it is exported a moment later.

From the SDK tracer it takes the sampler (consulted at start, as the SDK does; the SDK's
default, parent-based always-on, is decided inline as it would decide), the id generator,
the resource and the span processors. Not supported, as no Pilothouse code uses
them: span processors' ``on_start`` (the batch and simple processors do nothing there) and
the SDK's tracer self-metrics.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from opentelemetry import trace as trace_api
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanLimits
from opentelemetry.sdk.trace import Tracer as SdkTracer
from opentelemetry.sdk.trace.sampling import DEFAULT_ON, Decision
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.util.types import Attributes, AttributeValue

from pilothouse.observability.backlog import Backlog

_UNSET = Status(StatusCode.UNSET)

T = TypeVar("T")


class RecordedSpan(trace_api.Span):
    """A span that records into plain fields until it ends. See the module docstring."""

    def __init__(
        self,
        recorder: SpanRecorder,
        name: str,
        context: SpanContext,
        parent: SpanContext | None,
        kind: SpanKind,
        attributes: dict[str, Any],
        links: Sequence[Link],
        start_time: int,
    ) -> None:
        self.name = name
        self.kind = kind
        self.parent = parent
        self.attributes = attributes
        self.events: list[tuple[str, Attributes, int]] = []
        self.links = tuple(links)
        self.status = _UNSET
        self.start_time = start_time
        self.end_time: int | None = None
        self._context = context
        self._recorder = recorder

    def get_span_context(self) -> SpanContext:
        return self._context

    def is_recording(self) -> bool:
        return self.end_time is None

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        if self.end_time is None:
            self.attributes[key] = value

    def set_attributes(self, attributes: Mapping[str, AttributeValue]) -> None:
        if self.end_time is None:
            self.attributes.update(attributes)

    def add_event(
        self, name: str, attributes: Attributes = None, timestamp: int | None = None
    ) -> None:
        if self.end_time is None:
            self.events.append((name, attributes, timestamp or time.time_ns()))

    def add_link(self, context: SpanContext, attributes: Attributes = None) -> None:
        if self.end_time is None and context.is_valid:
            self.links += (Link(context, attributes),)

    def update_name(self, name: str) -> None:
        if self.end_time is None:
            self.name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        """As the SDK does: an ``OK`` status is final; ``UNSET`` changes nothing."""
        if self.end_time is not None or self.status.status_code is StatusCode.OK:
            return
        if isinstance(status, StatusCode):
            status = Status(status, description)
        if status.status_code is not StatusCode.UNSET:
            self.status = status

    def record_exception(
        self,
        exception: BaseException,
        attributes: Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        """An ``exception`` event with the attributes the SDK gives it."""
        kind = type(exception)
        module = kind.__module__
        event: dict[str, AttributeValue] = {
            "exception.type": (
                f"{module}.{kind.__qualname__}" if module != "builtins" else kind.__qualname__
            ),
            "exception.message": str(exception),
            "exception.stacktrace": "".join(traceback.format_exception(exception)),
            "exception.escaped": str(escaped),
        }
        event.update(attributes or {})
        self.add_event("exception", event, timestamp)

    def end(self, end_time: int | None = None) -> None:
        if self.end_time is not None:
            return
        self.end_time = end_time if end_time is not None else time.time_ns()
        self._recorder.ended(self)


class SpanRecorder:
    """Opens :class:`RecordedSpan` as a tracer's ``start_span`` would; see the module
    docstring.

    Args:
        tracer: The SDK tracer whose sampler, ids, resource and processors to use.
        backlog: Where ended spans wait to be handed to the processors.
        limits: The span limits exported spans are held to (the SDK's defaults, which the
            ``OTEL_SPAN_*`` variables set).
    """

    def __init__(
        self, tracer: SdkTracer, backlog: Backlog, limits: SpanLimits | None = None
    ) -> None:
        self._sampler = tracer.sampler
        # The SDK's default, parent-based always-on: sample a root, follow a parent's flag.
        # Decided inline, as the sampler would: its three calls per span were 40% of a
        # span's cost here.
        self._default_sampler = tracer.sampler is DEFAULT_ON
        self._ids = tracer.id_generator
        self._resource = tracer.resource
        self._processor = tracer.span_processor
        self._scope = InstrumentationScope(tracer.instrumentation_info.name)
        self._limits = limits or SpanLimits()
        self._backlog = backlog

    def start_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = (),
        start_time: int | None = None,
    ) -> trace_api.Span:
        """A span named ``name`` under the span of ``context`` (None: the current one),
        or a non-recording span when the sampler drops it."""
        parent: SpanContext | None = trace_api.get_current_span(context).get_span_context()
        if parent is None or not parent.is_valid:
            parent = None
            trace_id = self._ids.generate_trace_id()
            random_trace_id = self._ids.is_trace_id_random()
        else:
            trace_id = parent.trace_id
            random_trace_id = parent.trace_flags.random_trace_id
        if self._default_sampler:  # its decision, without its calls (see __init__)
            sampled = record = parent is None or parent.trace_flags.sampled
            trace_state = parent.trace_state if parent is not None else None
            recorded = dict(attributes) if attributes and record else {}
        else:
            result = self._sampler.should_sample(context, trace_id, name, kind, attributes, links)
            sampled = result.decision is Decision.RECORD_AND_SAMPLE
            record = result.decision is not Decision.DROP
            trace_state = result.trace_state
            recorded = dict(result.attributes or {})
            recorded.update(attributes or {})
        flags = TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT
        if random_trace_id:
            flags |= TraceFlags.RANDOM_TRACE_ID
        span_context = SpanContext(
            trace_id,
            self._ids.generate_span_id(),
            is_remote=False,
            trace_flags=TraceFlags(flags),
            trace_state=trace_state,
        )
        if not record:
            return trace_api.NonRecordingSpan(span_context)
        return RecordedSpan(
            self,
            name,
            span_context,
            parent,
            kind,
            recorded,
            links or (),
            start_time if start_time is not None else time.time_ns(),
        )

    def ended(self, span: RecordedSpan) -> None:
        """``span`` ended: export it after the request path."""
        self._backlog.add(self._export, span)

    def _export(self, span: RecordedSpan) -> None:
        limits = self._limits
        attributes = BoundedAttributes(
            limits.max_span_attributes,
            span.attributes,
            immutable=True,
            max_value_len=limits.max_span_attribute_length,
        )
        events = [
            Event(
                name,
                BoundedAttributes(
                    limits.max_event_attributes,
                    attrs,
                    immutable=True,
                    max_value_len=limits.max_attribute_length,
                ),
                timestamp,
            )
            for name, attrs, timestamp in _last(span.events, limits.max_events)
        ]
        readable = ReadableSpan(
            name=span.name,
            context=span.get_span_context(),
            parent=span.parent,
            resource=self._resource,
            attributes=attributes,
            events=events,
            links=_last(span.links, limits.max_links),
            kind=span.kind,
            status=span.status,
            start_time=span.start_time,
            end_time=span.end_time,
            instrumentation_scope=self._scope,
        )
        self._processor.on_end(readable)


def _last(values: Sequence[T], limit: int | None) -> Sequence[T]:
    """The last ``limit`` values (all when None): the SDK drops the oldest past a limit."""
    if limit is None or len(values) <= limit:
        return values
    return values[len(values) - limit :]
