"""Recorded spans export what the SDK's own spans export for the same calls — attributes,
events, links, status, parent, limits — only later; the provider's sampler still decides,
and an ended span records nothing more."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace import Tracer as SdkTracer
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from pilothouse.observability.backlog import Backlog
from pilothouse.observability.tracing import attributes as attr
from pilothouse.observability.tracing.spans import SpanRecorder

PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
T0 = 1_795_000_000 * 10**9


def _provider(
    limits: SpanLimits | None = None, **kwargs: Any
) -> tuple[TracerProvider, InMemorySpanExporter, SdkTracer]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource.create({"service.name": "t"}), span_limits=limits, **kwargs
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("pilothouse")
    assert isinstance(tracer, SdkTracer)
    return provider, exporter, tracer


def _journey(tracer: Any) -> None:
    """The same calls, made with whichever tracer: a server span, a child with attributes
    of each type, events, a link, an error status, an exception, a rename."""
    remote = attr.parent_context({"traceparent": PARENT})
    root = tracer.start_span("POST", context=remote, kind=SpanKind.SERVER, start_time=T0)
    root.update_name("POST /v1/responses")
    child = tracer.start_span(
        "chat gpt-4o-mini",
        context=trace.set_span_in_context(root),
        kind=SpanKind.CLIENT,
        attributes={"gen_ai.operation.name": "chat", "count": 3},
        links=[Link(root.get_span_context(), {"why": "retry"})],
        start_time=T0 + 1_000,
    )
    child.set_attribute("cost", 0.0000789)
    child.set_attributes({"reasons": ["tool_calls", "stop"], "ok": True, "sizes": [1, 2]})
    child.add_event("policy.decision", {"action": "call_tool", "outcome": "allow"}, T0 + 2_000)
    child.add_event("bare", timestamp=T0 + 3_000)
    child.record_exception(ValueError("bad"), {"extra": "x"}, timestamp=T0 + 4_000)
    child.set_status(Status(StatusCode.ERROR, "upstream said no"))
    child.set_status(StatusCode.UNSET)  # changes nothing
    child.end(T0 + 5_000)
    child.set_attribute("late", "ignored")  # ended: records nothing more
    root.set_status(StatusCode.OK)
    root.set_status(Status(StatusCode.ERROR))  # OK is final
    root.end(T0 + 6_000)


def _shape(span: ReadableSpan, ids: dict[int, str]) -> dict[str, Any]:
    """What an exporter sees, span ids replaced by the name of the span that has them."""
    parent = span.parent
    events = [
        (e.name, {k: v for k, v in (e.attributes or {}).items() if k != "exception.stacktrace"})
        for e in span.events
    ]
    return {
        "name": span.name,
        "kind": span.kind,
        "trace_id": span.context.trace_id,
        "parent": None if parent is None else ids.get(parent.span_id, f"{parent.span_id:x}"),
        "remote_parent": None if parent is None else parent.is_remote,
        "attributes": dict(span.attributes or {}),
        "events": events,
        "event_times": [e.timestamp for e in span.events],
        "links": [(ids[link.context.span_id], dict(link.attributes or {})) for link in span.links],
        "status": (span.status.status_code, span.status.description),
        "times": (span.start_time, span.end_time),
        "resource": dict(span.resource.attributes),
        "scope": span.instrumentation_scope.name if span.instrumentation_scope else None,
        "flags": int(span.context.trace_flags),
    }


def _exported(exporter: InMemorySpanExporter) -> list[dict[str, Any]]:
    spans = exporter.get_finished_spans()
    ids = {span.context.span_id: span.name for span in spans}
    return [_shape(span, ids) for span in spans]


def test_recorded_spans_export_what_sdk_spans_export() -> None:
    _, sdk_exporter, sdk_tracer = _provider()
    _journey(sdk_tracer)
    _, exporter, tracer = _provider()
    backlog = Backlog(delay_s=60)
    _journey(SpanRecorder(tracer, backlog))
    assert _exported(sdk_exporter) == _exported(exporter)
    exception = exporter.get_finished_spans()[0].events[2]
    assert "ValueError: bad" in str((exception.attributes or {})["exception.stacktrace"])


async def test_spans_reach_the_processors_only_from_the_backlog() -> None:
    _, exporter, tracer = _provider()
    backlog = Backlog(delay_s=60)
    recorder = SpanRecorder(tracer, backlog)
    span = recorder.start_span("invoke_agent desk", attributes={"a": 1})
    span.end()
    assert exporter.get_finished_spans() == () and len(backlog) == 1
    backlog.flush()
    (exported,) = exporter.get_finished_spans()
    assert exported.name == "invoke_agent desk" and dict(exported.attributes or {}) == {"a": 1}
    span.end()  # a second end exports nothing
    assert len(backlog) == 0


def test_span_limits_apply_as_in_the_sdk() -> None:
    limits = SpanLimits(max_span_attributes=2, max_events=2, max_attribute_length=4)
    for make in ("sdk", "recorded"):
        _, exporter, tracer = _provider(limits)
        opener: Any = tracer if make == "sdk" else SpanRecorder(tracer, Backlog(), limits)
        span = opener.start_span("s", attributes={"one": 1, "two": 2, "three": 3})
        span.add_event("first")
        span.add_event("second", {"k": "long value"})
        span.add_event("third")
        span.end()
        (exported,) = exporter.get_finished_spans()
        assert dict(exported.attributes or {}) == {"two": 2, "three": 3}, make  # oldest dropped
        assert [e.name for e in exported.events] == ["second", "third"], make
        assert dict(exported.events[0].attributes or {}) == {"k": "long"}, make


def test_the_providers_sampler_decides() -> None:
    _, exporter, tracer = _provider(sampler=ParentBased(ALWAYS_OFF))
    backlog = Backlog()
    recorder = SpanRecorder(tracer, backlog)
    dropped = recorder.start_span("root")
    assert not dropped.is_recording()
    assert attr.traceparent(dropped).endswith("-00") or attr.traceparent(dropped).endswith("-02")
    dropped.end()
    sampled_parent = attr.parent_context({"traceparent": PARENT})
    kept = recorder.start_span("child", context=sampled_parent)  # a sampled parent: kept
    assert kept.is_recording()
    kept.end()
    assert [s.name for s in exporter.get_finished_spans()] == ["child"]
    assert attr.traceparent(kept).startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-")


@pytest.mark.parametrize(
    "traceparent",
    [
        None,
        PARENT,  # remote, sampled
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",  # remote, not sampled
    ],
)
@pytest.mark.parametrize("tracestate", [None, "vendor=1,other=x"])
@pytest.mark.parametrize("local_child", [False, True])
def test_the_default_samplers_decisions_are_the_sdks(
    traceparent: str | None, tracestate: str | None, local_child: bool
) -> None:
    """The default sampler (parent-based, always on) is decided inline: the same
    recording, flags and trace state as the SDK's tracer, for roots, remote parents and
    local parents."""
    headers = {"traceparent": traceparent} if traceparent else {}
    if traceparent and tracestate:
        headers["tracestate"] = tracestate
    seen = []
    for make in ("sdk", "recorded"):
        _, _, tracer = _provider()
        opener: Any = tracer if make == "sdk" else SpanRecorder(tracer, Backlog())
        assert make == "sdk" or opener._default_sampler
        context = TraceContextTextMapPropagator().extract(headers) if headers else None
        span = opener.start_span("first", context=context)
        if local_child:
            span = opener.start_span("child", context=trace.set_span_in_context(span))
        span_context = span.get_span_context()
        seen.append(
            (
                span.is_recording(),
                int(span_context.trace_flags),
                span_context.trace_state.to_header(),
                traceparent is None or span_context.trace_id == 0x4BF92F3577B34DA6A3CE929D0E0E4736,
            )
        )
    assert seen[0] == seen[1]
