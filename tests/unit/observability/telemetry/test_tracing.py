"""Tracing wrappers in isolation: content capture is off by default and redacted when on,
tracing off creates nothing and changes no header, an abandoned stream still ends its
span, the policy hook annotates the span a call's headers name, and exporters build."""

from __future__ import annotations

import contextlib
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.util import ns_to_iso_str
from opentelemetry.trace import SpanKind, Status, StatusCode

from pilothouse.control.bundle import load_bundle
from pilothouse.errors import UpstreamError
from pilothouse.observability.redaction import Redactor, SecretsRegistry
from pilothouse.observability.telemetry import Telemetry
from pilothouse.observability.tracing.jsonl import JsonlSpanExporter, iso_time
from pilothouse.observability.tracing.model import ObservedProvider
from pilothouse.observability.tracing.run import TracedRuns
from pilothouse.observability.tracing.setup import build_exporter, build_tracer_provider
from pilothouse.observability.tracing.tools import ObservedGateway
from pilothouse.runtime.agent.executor import BoundModel
from pilothouse.runtime.agent.state import RunState, tool_budget
from pilothouse.runtime.providers.base import ModelRequest
from pilothouse.runtime.providers.scripted import ScriptedProvider
from pilothouse.runtime.tools.base import RunToolBudget, ToolCall, ToolResult

KEY = "sk-proj-canary0123456789abcdefABCDEF"
BUNDLE = Path(__file__).parents[3] / "fixtures" / "bundles" / "faulty"
PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _telemetry(exporter: InMemorySpanExporter | None, content: bool = False) -> Telemetry:
    provider = build_tracer_provider(exporter, batch=False)
    redactor = Redactor(secrets=SecretsRegistry([KEY]))
    return Telemetry(
        provider=provider,
        capture_content=content,
        redact=lambda value: redactor.redact_json(value).value,
    )


def _request() -> ModelRequest:
    text = f"My key is {KEY}, mail me at jane.doe@example.com"
    return ModelRequest(
        model="gpt-4o-mini",
        input=[{"type": "message", "role": "user", "content": text}],
        headers={"traceparent": PARENT, "x-request-id": "req_1"},
    )


async def test_content_is_captured_redacted_only_when_enabled() -> None:
    for enabled in (False, True):
        exporter = InMemorySpanExporter()
        telemetry = _telemetry(exporter, enabled)
        await ObservedProvider(ScriptedProvider("scripted"), telemetry).complete(_request())
        telemetry.flush()
        (span,) = exporter.get_finished_spans()
        attrs = dict(span.attributes or {})
        assert span.parent is not None and span.parent.span_id == 0x00F067AA0BA902B7
        if not enabled:
            assert "gen_ai.input.messages" not in attrs
            assert "gen_ai.output.messages" not in attrs
            continue
        captured = str(attrs["gen_ai.input.messages"])
        assert KEY not in captured and "jane.doe@example.com" not in captured
        assert orjson.loads(captured)[0]["role"] == "user"
        assert attrs["gen_ai.output.messages"]


async def test_tracing_off_creates_nothing_and_keeps_headers() -> None:
    inner = ScriptedProvider("scripted")
    seen: list[dict[str, str]] = []
    original = inner.complete

    async def spy(request: ModelRequest) -> object:
        seen.append(dict(request.headers))
        return await original(request)

    inner.complete = spy  # type: ignore[method-assign,assignment]
    telemetry = _telemetry(None)
    assert telemetry.tracer is None
    result = await ObservedProvider(inner, telemetry).complete(_request())
    assert result.status == "completed"
    assert seen == [{"traceparent": PARENT, "x-request-id": "req_1"}]


async def test_abandoned_stream_ends_its_span() -> None:
    exporter = InMemorySpanExporter()
    telemetry = _telemetry(exporter)
    provider = ObservedProvider(ScriptedProvider("scripted"), telemetry)
    async with contextlib.aclosing(provider.stream(_request())) as events:
        async for _ in events:
            break
    telemetry.flush()
    (span,) = exporter.get_finished_spans()
    assert dict(span.attributes or {})["error.type"] == "cancelled"


class _Gateway:
    """Answers every call; lets the test act while the batch is in flight."""

    def __init__(self, telemetry: Telemetry) -> None:
        self.telemetry = telemetry

    async def execute(self, calls: list[ToolCall], budget: RunToolBudget) -> list[ToolResult]:
        for call in calls:
            self.telemetry.policy_decision(call.headers, "call_tool", "allow", ["p-read"])
        return [ToolResult(call=call, output={"ok": True}, attempts=1) for call in calls]

    async def aclose(self) -> None:
        return None


async def test_policy_hook_annotates_the_call_span() -> None:
    exporter = InMemorySpanExporter()
    telemetry = _telemetry(exporter)
    gateway = ObservedGateway(_Gateway(telemetry), telemetry, None)
    call = ToolCall("search_kb", {"q": "vpn"}, "call_1", "ph-1", "resp_1", {"traceparent": PARENT})
    await gateway.execute([call], RunToolBudget())
    telemetry.flush()
    (span,) = exporter.get_finished_spans()
    attrs = dict(span.attributes or {})
    assert attrs["pilothouse.policy.outcome"] == "allow"
    assert attrs["pilothouse.policy.policy_ids"] == ("p-read",)
    assert call.headers["traceparent"].split("-")[2] == f"{span.context.span_id:016x}"
    assert telemetry.span_for(call.headers) is None  # forgotten once ended


def test_jsonl_exporter_writes_one_span_per_line(tmp_path: Path) -> None:
    path = tmp_path / "traces" / "spans.jsonl"
    provider = build_tracer_provider(JsonlSpanExporter(path), batch=False)
    assert provider is not None
    tracer = provider.get_tracer("test")
    for name in ("one", "two"):
        tracer.start_span(name, attributes={"pilothouse.run_id": "resp_1"}).end()
    provider.shutdown()
    lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert [line["name"] for line in lines] == ["one", "two"]
    assert lines[0]["attributes"]["pilothouse.run_id"] == "resp_1"


def test_jsonl_lines_are_the_sdks_own_json_compacted(tmp_path: Path) -> None:
    """Every field the SDK's ``to_json`` writes, as it writes it: parent, events, links,
    status with a description, attributes of each type, the resource."""
    memory = InMemorySpanExporter()
    provider = build_tracer_provider(memory, batch=False)
    assert provider is not None
    tracer = provider.get_tracer("test")
    parent = tracer.start_span("parent", kind=SpanKind.SERVER)
    with trace.use_span(parent):
        child = tracer.start_span(
            "chat gpt-4o-mini",
            kind=SpanKind.CLIENT,
            links=[trace.Link(parent.get_span_context(), {"why": "retry"})],
            attributes={
                "text": 'été ✓ "quoted"\n',
                "count": 3,
                "cost": 0.0000789,
                "ok": True,
                "reasons": ["tool_calls", "stop"],
                "sizes": [1, 2],
            },
        )
        child.add_event("policy.decision", {"outcome": "allow"})
        child.add_event("bare")
        child.set_status(Status(StatusCode.ERROR, "upstream said no"))
        child.end()
    parent.end()
    exporter = JsonlSpanExporter(tmp_path / "spans.jsonl")
    spans = memory.get_finished_spans()
    assert len(spans) == 2
    for span in spans:
        expected = orjson.dumps(orjson.loads(span.to_json(indent=None)))
        assert orjson.dumps(exporter.render(span)) == expected
    exporter.export(spans)
    exporter.shutdown()
    lines = (tmp_path / "spans.jsonl").read_bytes().splitlines()
    assert [orjson.loads(line)["name"] for line in lines] == ["chat gpt-4o-mini", "parent"]


# 2026-11-24, and the start of the last year ``datetime`` can write.
NOW_NS = 1_795_000_000 * 10**9
LAST_NS = 253_370_764_800 * 10**9


@pytest.mark.parametrize(
    "nanoseconds",
    [
        0,
        1,
        499,
        500,
        501,
        1_500,
        NOW_NS - 1,  # rounds up into the next second
        NOW_NS - 500,
        NOW_NS - 501,
        NOW_NS + 999_999_499,
        NOW_NS + 999_999_500,
        NOW_NS + 123_456_789,
        LAST_NS + 999_999_000,
    ],
)
def test_span_times_are_written_as_the_sdk_writes_them(nanoseconds: int) -> None:
    assert iso_time(nanoseconds) == ns_to_iso_str(nanoseconds)


@settings(max_examples=500, deadline=None)
@given(st.integers(min_value=0, max_value=LAST_NS + 999_999_999))
def test_any_span_time_is_written_as_the_sdk_writes_it(nanoseconds: int) -> None:
    assert iso_time(nanoseconds) == ns_to_iso_str(nanoseconds)


@pytest.mark.parametrize("kind", ["console", "otlp-http", "otlp-grpc"])
def test_configured_exporters_build(kind: str, tmp_path: Path) -> None:
    exporter = build_exporter(kind, "http://127.0.0.1:4318/v1/traces", tmp_path / "x.jsonl")
    assert exporter is not None
    exporter.shutdown()


def test_no_exporter_means_no_tracer(tmp_path: Path) -> None:
    assert build_exporter("none", None, tmp_path / "x.jsonl") is None
    assert build_tracer_provider(None) is None
    with pytest.raises(ValueError, match="unknown trace exporter"):
        build_exporter("zipkin", None, tmp_path / "x.jsonl")


def _run_state(release_id: str | None) -> RunState:
    spec = load_bundle(BUNDLE).agents["noter"]
    return RunState(
        run_id="resp_run",
        tenant="default",
        agent=spec,
        limits=spec.limits,
        tools={},
        instructions=None,
        history=[],
        headers={"traceparent": PARENT, "x-request-id": "req_9"},
        release_id=release_id,
        environment="prod" if release_id else None,
        tool_budget=tool_budget(spec.limits),
    )


def test_run_span_carries_release_limit_and_failure() -> None:
    exporter = InMemorySpanExporter()
    telemetry = _telemetry(exporter)
    model = BoundModel(ScriptedProvider("scripted"), "gpt-4o-mini", "gpt-4o-mini")
    runs = TracedRuns(telemetry)

    state = _run_state("rel_123")
    observed = runs.observe(state, model, _Gateway(telemetry), None)
    state.status, state.incomplete_reason, state.cost_usd = "incomplete", "max_steps", 0.25
    observed.end(state, None)

    failed_state = _run_state(None)
    failed = runs.observe(failed_state, model, _Gateway(telemetry), None)
    failed.end(failed_state, UpstreamError("upstream down", status=502, code="upstream_error"))

    limited, broken = exporter.get_finished_spans()
    attrs = dict(limited.attributes or {})
    assert attrs["pilothouse.release_id"] == "rel_123"
    assert attrs["pilothouse.environment"] == "prod"
    assert attrs["pilothouse.limit"] == "max_steps"
    assert attrs["pilothouse.status"] == "incomplete" and attrs["pilothouse.cost_usd"] == 0.25
    assert attrs["pilothouse.request_id"] == "req_9"
    assert limited.parent is not None and limited.parent.span_id == 0x00F067AA0BA902B7
    assert state.headers["traceparent"].split("-")[2] == f"{limited.context.span_id:016x}"
    broken_attrs = dict(broken.attributes or {})
    assert "pilothouse.release_id" not in broken_attrs
    assert broken_attrs["error.type"] == "upstream_error" and not broken.status.is_ok
    text = telemetry.metrics.exposition().decode()
    assert 'pilothouse_limit_hits_total{agent="noter",limit="max_steps"} 1.0' in text
    assert 'pilothouse_runs_total{agent="noter",status="failed"} 1.0' in text
