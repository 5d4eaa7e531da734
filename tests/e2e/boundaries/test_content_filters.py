"""Content filters end to end, on the non-streaming and the streaming path: a hit ends the
response ``incomplete`` with reason ``content_filter`` before any side effect (no model
call for blocked input, no tool call for blocked output, no blocked text returned), and
agent runs journal it as a ``policy.content_filter`` event."""

from __future__ import annotations

from typing import Any

import httpx2 as httpx
import openai
import orjson
import pytest

from pilothouse.runtime.providers.filtered import NOTICE
from pilothouse.testing import FakeUpstream
from tests.e2e.boundaries.conftest import BoundaryServer
from tests.e2e.wire import check_event, stream_events


def run(raw: httpx.Client, model: str, text: str, streamed: bool) -> dict[str, Any]:
    """Create a response; for a stream, check its events and return the final object."""
    body = {"model": model, "input": text}
    if not streamed:
        response = raw.post("/v1/responses", json=body)
        assert response.status_code == 200, response.text
        payload: dict[str, Any] = response.json()
        return payload
    events = stream_events(raw, "POST", "/v1/responses", json={**body, "stream": True})
    for event in events:
        if '"mcp_' not in str(orjson.dumps(event)):
            check_event(event)  # the spec has no models of the mcp_* items
    assert events[-1]["type"] == "response.incomplete"
    numbers = [event["sequence_number"] for event in events]
    assert numbers == sorted(set(numbers))
    deltas = "".join(e.get("delta", "") for e in events if e["type"].endswith(".delta"))
    final: dict[str, Any] = events[-1]["response"]
    final["_streamed_text"] = deltas
    return final


def policy_events(raw: httpx.Client, run_id: str) -> list[dict[str, Any]]:
    """The filter hits journaled for the run (without the context every entry carries)."""
    entries = raw.get(f"/admin/v1/runs/{run_id}/journal").json()["data"]
    own = ("stage", "rule", "rule_type")
    return [
        {key: e["payload"][key] for key in own if key in e["payload"]}
        for e in entries
        if e["kind"] == "policy.content_filter"
    ]


def assert_filtered(final: dict[str, Any]) -> None:
    assert final["status"] == "incomplete"
    assert final["incomplete_details"] == {"reason": "content_filter"}
    texts = [
        part["text"]
        for item in final["output"]
        if item["type"] == "message"
        for part in item["content"]
    ]
    assert texts[-1] == NOTICE


@pytest.mark.parametrize("streamed", [False, True], ids=["json", "sse"])
def test_blocked_input_ends_the_run_before_the_model_is_called(
    raw: httpx.Client, boundary: BoundaryServer, streamed: bool
) -> None:
    final = run(raw, "agent:chatty", "Please WIRE THE MONEY today.", streamed)
    assert_filtered(final)
    assert "WIRE" not in str(final["output"])
    assert policy_events(raw, final["id"]) == [
        {"stage": "input", "rule": "no-wire-fraud", "rule_type": "blocklist"}
    ]


@pytest.mark.parametrize("streamed", [False, True], ids=["json", "sse"])
def test_blocked_tool_arguments_are_never_executed(
    raw: httpx.Client, boundary: BoundaryServer, streamed: bool
) -> None:
    final = run(raw, "agent:shouter", "Post the note.", streamed)
    assert_filtered(final)
    assert boundary.tools.requests == []  # the tool call the model asked for never ran
    assert not [item for item in final["output"] if item["type"] == "mcp_call"]
    assert "DROP TABLE" not in str(final["output"])
    assert policy_events(raw, final["id"]) == [
        {"stage": "output", "rule": "no-drop-table", "rule_type": "blocklist"}
    ]


@pytest.mark.parametrize("streamed", [False, True], ids=["json", "sse"])
def test_a_classifier_hook_blocks_model_output(
    raw: httpx.Client, boundary: BoundaryServer, streamed: bool
) -> None:
    final = run(raw, "agent:moderated", "Say something.", streamed)
    assert_filtered(final)
    assert "forbidden-word" not in str(final["output"])
    assert "forbidden-word" not in final.get("_streamed_text", "")
    assert policy_events(raw, final["id"])[0]["rule"] == "moderation"


@pytest.mark.parametrize("streamed", [False, True], ids=["json", "sse"])
def test_plain_model_requests_are_filtered_too(
    raw: httpx.Client, boundary: BoundaryServer, upstream: FakeUpstream, streamed: bool
) -> None:
    # Output: the offline model echoes the input, which the release's regex blocks.
    final = run(raw, "gpt-4o-mini", "Mark it internal use only.", streamed)
    assert_filtered(final)
    assert "internal use only" not in final.get("_streamed_text", "").lower()
    assert "internal use only" not in str(final["output"]).lower()
    # Input: the upstream is never called for blocked input.
    before = len(upstream.requests)
    blocked = run(raw, "upstream/gpt-4o", "wire the money", streamed)
    assert_filtered(blocked)
    assert len(upstream.requests) == before
    stored = raw.get(f"/v1/responses/{blocked['id']}").json()
    assert stored["incomplete_details"] == {"reason": "content_filter"}


def test_clean_traffic_passes_every_filter(sdk: openai.OpenAI, boundary: BoundaryServer) -> None:
    plain = sdk.responses.create(model="gpt-4o-mini", input="Hello there.")
    agent = sdk.responses.create(model="agent:chatty", input="How is the weather?")
    assert plain.status == agent.status == "completed"
    assert plain.output_text == "You said: Hello there."
