"""Traces end to end: an agent run with two HTTP tools (one retried) traced into an
in-memory exporter under the client's ``traceparent``; the tool server and the upstream
receive the trace; a plain request gets a server span and a ``chat`` span."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import openai
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from pilothouse.testing import FakeUpstream
from pilothouse.testing.tool_server import FaultyToolServer
from tests.e2e.observability.conftest import named, wait_for_spans

NOTE = "Check INC-1 and add a note to it: router rebooted."
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"


def _server_done(spans: Sequence[ReadableSpan]) -> bool:
    return any(s.kind == SpanKind.SERVER for s in spans)


def _ids(traceparent: str) -> tuple[str, str]:
    _, trace_id, span_id, _ = traceparent.split("-")
    return trace_id, span_id


def _hex(span_id: int) -> str:
    return f"{span_id:016x}"


def _attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def _traced_run(
    obs: openai.OpenAI, exporter: InMemorySpanExporter, tools: FaultyToolServer
) -> tuple[Any, Any, Sequence[ReadableSpan]]:
    tools.fail("status", times=1, status=503, path="/notes")
    raw = obs.responses.with_raw_response.create(
        model="agent:noter",
        input=NOTE,
        extra_headers={"traceparent": f"00-{TRACE_ID}-{CLIENT_SPAN}-01"},
    )
    return raw, raw.parse(), wait_for_spans(exporter, _server_done)


def test_agent_run_is_one_trace_with_genai_spans(
    obs: openai.OpenAI, span_exporter: InMemorySpanExporter, obs_tools: FaultyToolServer
) -> None:
    raw, response, spans = _traced_run(obs, span_exporter, obs_tools)
    assert response.status == "completed"
    assert {s.context.trace_id for s in spans} == {int(TRACE_ID, 16)}

    (server,) = [s for s in spans if s.kind == SpanKind.SERVER]
    assert server.name == "POST /v1/responses"
    assert server.parent is not None and _hex(server.parent.span_id) == CLIENT_SPAN
    assert server.parent.is_remote  # the client's span
    assert _attrs(server)["http.response.status_code"] == 200
    # The client gets back the traceparent of our server span.
    assert _ids(raw.headers["traceparent"]) == (TRACE_ID, _hex(server.context.span_id))

    (run,) = named(spans, "invoke_agent ")
    assert run.name == "invoke_agent noter"
    assert run.parent is not None and run.parent.span_id == server.context.span_id
    assert not run.parent.is_remote  # spans of this process have local parents
    run_attrs = _attrs(run)
    extension = response.model_extra["pilothouse"]  # type: ignore[index]
    assert run_attrs["gen_ai.operation.name"] == "invoke_agent"
    assert run_attrs["gen_ai.agent.name"] == "noter"
    assert run_attrs["gen_ai.response.id"] == response.id
    assert run_attrs["pilothouse.run_id"] == response.id
    assert run_attrs["pilothouse.status"] == "completed"
    assert run_attrs["gen_ai.usage.input_tokens"] == response.usage.input_tokens
    assert run_attrs["gen_ai.usage.output_tokens"] == response.usage.output_tokens
    assert run_attrs["pilothouse.cost_usd"] == pytest.approx(extension["cost_usd"])
    assert run_attrs["pilothouse.cost_usd"] > 0
    assert run_attrs["pilothouse.steps"] == 2 and run_attrs["pilothouse.tool_calls"] == 2
    # Every decision of the run is an event on its span, a tool call's included: it is
    # decided before the call's execute_tool span opens.
    decisions = [dict(e.attributes or {}) for e in run.events if e.name == "policy.decision"]
    assert sorted(d["action"] for d in decisions) == [
        "call_tool",
        "call_tool",
        "use_model",
        "use_model",
    ]
    assert {d["pilothouse.policy.outcome"] for d in decisions} == {"allow"}
    assert run_attrs["pilothouse.policy.outcome"] == "allow"

    chats = named(spans, "chat ")
    assert len(chats) == 2
    for chat in chats:
        attrs = _attrs(chat)
        assert chat.parent is not None and chat.parent.span_id == run.context.span_id
        assert not chat.parent.is_remote
        assert chat.kind == SpanKind.CLIENT
        assert attrs["gen_ai.operation.name"] == "chat"
        assert attrs["gen_ai.request.model"] == "gpt-4o-mini"
        assert attrs["gen_ai.response.model"]
        assert attrs["gen_ai.provider.name"] == attrs["gen_ai.system"] == "scripted"
        assert "gen_ai.input.messages" not in attrs  # content is off by default
    assert sum(_attrs(c)["gen_ai.usage.input_tokens"] for c in chats) == (
        response.usage.input_tokens
    )
    assert sum(_attrs(c)["gen_ai.usage.output_tokens"] for c in chats) == (
        response.usage.output_tokens
    )
    assert sum(_attrs(c)["pilothouse.cost_usd"] for c in chats) == pytest.approx(
        extension["cost_usd"]
    )

    tools = {_attrs(s)["gen_ai.tool.name"]: s for s in named(spans, "execute_tool ")}
    assert set(tools) == {"get_ticket", "add_incident_note"}
    calls = {item.name: item for item in response.output if item.type == "mcp_call"}
    for name, span in tools.items():
        attrs = _attrs(span)
        assert span.parent is not None and span.parent.span_id == run.context.span_id
        assert not span.parent.is_remote
        assert attrs["gen_ai.operation.name"] == "execute_tool"
        assert attrs["gen_ai.tool.call.id"]
        assert attrs["pilothouse.run_id"] == response.id
        assert calls[name].status == "completed" and "error.type" not in attrs
        assert not [e for e in span.events if e.name == "policy.decision"]
    note = tools["add_incident_note"]
    assert _attrs(note)["pilothouse.tool.attempts"] == 2
    outcomes = [e.attributes["pilothouse.attempt.outcome"] for e in note.events]  # type: ignore[index]
    assert outcomes == ["http_503", "ok"]
    assert _attrs(tools["get_ticket"])["pilothouse.tool.attempts"] == 1


def test_tool_server_receives_the_trace_under_execute_tool(
    obs: openai.OpenAI, span_exporter: InMemorySpanExporter, obs_tools: FaultyToolServer
) -> None:
    _, _, spans = _traced_run(obs, span_exporter, obs_tools)
    tools = {_attrs(s)["gen_ai.tool.name"]: s for s in named(spans, "execute_tool ")}
    received = {
        "get_ticket": [r for r in obs_tools.requests if r.path.startswith("/tickets/")],
        "add_incident_note": obs_tools.calls("/notes"),
    }
    assert len(received["add_incident_note"]) == 2  # the retry carries the same parent
    for name, requests in received.items():
        assert requests
        for request in requests:
            trace_id, parent = _ids(request.headers["traceparent"])
            assert trace_id == TRACE_ID
            assert parent == _hex(tools[name].context.span_id)
            assert request.headers["x-pilothouse-run-id"]


def test_plain_request_gets_server_and_chat_spans(
    obs: openai.OpenAI, span_exporter: InMemorySpanExporter, upstream: FakeUpstream
) -> None:
    response = obs.responses.create(model="upstream/gpt-4o", input="Say hi.")
    spans = wait_for_spans(span_exporter, _server_done)
    (server,) = [s for s in spans if s.kind == SpanKind.SERVER]
    assert server.parent is None  # no traceparent came: a new trace
    (chat,) = named(spans, "chat ")
    assert chat.parent is not None and chat.parent.span_id == server.context.span_id
    attrs = _attrs(chat)
    assert attrs["gen_ai.request.model"] == "upstream/gpt-4o"
    assert attrs["gen_ai.provider.name"] == "fake-openai"
    assert attrs["gen_ai.usage.input_tokens"] == response.usage.input_tokens
    assert attrs["gen_ai.usage.output_tokens"] == response.usage.output_tokens
    assert not named(spans, "invoke_agent")
    (sent,) = upstream.calls("/responses")
    trace_id, parent = _ids(sent.headers["traceparent"])
    assert trace_id == f"{chat.context.trace_id:032x}"
    assert parent == _hex(chat.context.span_id)


def test_failed_upstream_call_marks_the_chat_span(
    obs: openai.OpenAI, span_exporter: InMemorySpanExporter, upstream: FakeUpstream
) -> None:
    upstream.fail(status=500, times=1)
    with pytest.raises(openai.APIStatusError):
        obs.responses.create(model="upstream/gpt-4o", input="Say hi.")
    spans = wait_for_spans(span_exporter, _server_done)
    (chat,) = named(spans, "chat ")
    assert _attrs(chat)["error.type"]
    assert not chat.status.is_ok


def test_limit_and_tool_error_show_on_spans(
    obs: openai.OpenAI, span_exporter: InMemorySpanExporter, obs_tools: FaultyToolServer
) -> None:
    obs_tools.fail("status", times=1, status=400, path="/notes")
    failed_tool = obs.responses.create(model="agent:noter", input=NOTE)
    spans = wait_for_spans(span_exporter, _server_done)
    tools = {_attrs(s)["gen_ai.tool.name"]: s for s in named(spans, "execute_tool ")}
    note = tools["add_incident_note"]
    assert _attrs(note)["error.type"] == "http_400" and not note.status.is_ok
    assert [e.attributes["pilothouse.attempt.outcome"] for e in note.events] == ["http_400"]  # type: ignore[index]
    assert failed_tool.status == "completed"  # the model was told and answered

    span_exporter.clear()
    limited = obs.responses.create(
        model="agent:noter", input=NOTE, extra_body={"limits": {"max_steps": 1}}
    )
    assert limited.status == "incomplete"
    spans = wait_for_spans(span_exporter, _server_done)
    (run,) = named(spans, "invoke_agent ")
    attrs = _attrs(run)
    assert attrs["pilothouse.status"] == "incomplete"
    assert attrs["pilothouse.limit"] == limited.incomplete_details.reason == "max_steps"  # type: ignore[union-attr]
    assert not named(spans, "execute_tool ")  # no tool ran past the last step
