"""Streaming: canonical event order, sequence numbers, usage on the terminal event, the SDK's
``responses.stream()`` helper, and replay with ``GET ?stream=true``."""

from __future__ import annotations

from typing import Any

import httpx2 as httpx
import openai

from tests.e2e.test_responses_api import WEATHER
from tests.e2e.wire import check_event, check_resource, stream_events

TEXT = "Tell me about the sea, the boats on it, and the lighthouse at the harbour mouth."


def _check_canonical(events: list[dict[str, Any]]) -> None:
    """The stream invariants that validators and the SDK helper rely on."""
    numbers = [e["sequence_number"] for e in events]
    assert numbers == sorted(set(numbers)), "sequence numbers must strictly increase"
    assert events[0]["type"] == "response.created"
    assert events[1]["type"] == "response.in_progress"
    assert events[-1]["type"] in ("response.completed", "response.incomplete", "response.failed")
    assert events[-1]["response"]["usage"] is not None
    ids = {e["response"]["id"] for e in events if "response" in e}
    assert len(ids) == 1, "every lifecycle event carries the same response id"
    opened: dict[int, dict[str, Any]] = {}
    parts: set[tuple[int, int]] = set()
    for event in events:
        check_event(event)
        kind, index = event["type"], event.get("output_index")
        if kind == "response.output_item.added":
            assert index not in opened
            opened[index] = event["item"]
        elif kind == "response.output_item.done":
            assert event["item"]["id"] == opened[index]["id"]
            assert event["item"]["type"] == opened[index]["type"]
        elif kind == "response.content_part.added":
            assert index in opened
            parts.add((index, event["content_index"]))
        elif kind == "response.output_text.delta":
            assert (index, event["content_index"]) in parts
        elif kind.startswith("response.function_call_arguments"):
            assert index in opened
    done = [e for e in events if e["type"] == "response.output_item.done"]
    assert len(done) == len(opened) == len(events[-1]["response"]["output"])
    check_resource(events[-1]["response"])


def test_raw_stream_is_canonical(http: httpx.Client) -> None:
    events = stream_events(
        http, "POST", "/v1/responses", json={"model": "m", "input": TEXT, "stream": True}
    )
    _check_canonical(events)
    deltas = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    final = events[-1]["response"]
    assert final["status"] == "completed"
    assert deltas == final["output"][0]["content"][0]["text"] == f"You said: {TEXT}"


def test_sdk_raw_iterator_sync(client: openai.OpenAI) -> None:
    stream = client.responses.create(model="m", input=TEXT, stream=True)
    events = list(stream)
    assert events[0].type == "response.created"
    assert events[-1].type == "response.completed"
    final = events[-1].response  # type: ignore[union-attr]
    assert final.output_text == f"You said: {TEXT}"
    assert final.usage is not None and final.usage.output_tokens > 0


async def test_sdk_raw_iterator_async(aclient: openai.AsyncOpenAI) -> None:
    async with aclient:
        stream = await aclient.responses.create(model="m", input=TEXT, stream=True)
        kinds = [event.type async for event in stream]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert "response.output_text.delta" in kinds


def test_stream_helper_with_text(client: openai.OpenAI) -> None:
    with client.responses.stream(model="m", input=TEXT) as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == final.output_text == f"You said: {TEXT}"


def test_stream_helper_with_function_call(client: openai.OpenAI) -> None:
    with client.responses.stream(
        model="m",
        input="Weather in Oslo?",
        tools=[WEATHER],  # type: ignore[list-item]
    ) as stream:
        argument_deltas = [
            e.delta for e in stream if e.type == "response.function_call_arguments.delta"
        ]
        final = stream.get_final_response()
    call = final.output[0]
    assert call.type == "function_call"
    assert "".join(argument_deltas) == call.arguments


def test_streamed_and_plain_usage_agree(client: openai.OpenAI) -> None:
    plain = client.responses.create(model="m", input=TEXT)
    with client.responses.stream(model="m", input=TEXT) as stream:
        streamed = stream.get_final_response()
    assert plain.usage == streamed.usage


def test_stream_is_stored_and_retrievable(client: openai.OpenAI) -> None:
    with client.responses.stream(model="m", input="store this stream") as stream:
        final = stream.get_final_response()
    fetched = client.responses.retrieve(final.id)
    assert fetched.output_text == final.output_text
    assert fetched.status == "completed"


def test_replay_from_first_event_and_after(client: openai.OpenAI, http: httpx.Client) -> None:
    with client.responses.stream(model="m", input=TEXT) as stream:
        final = stream.get_final_response()
    events = stream_events(http, "GET", f"/v1/responses/{final.id}", params={"stream": "true"})
    _check_canonical(events)
    assert events[0]["sequence_number"] == 0
    assert events[-1]["response"]["output"][0]["content"][0]["text"] == final.output_text
    later = stream_events(
        http, "GET", f"/v1/responses/{final.id}", params={"stream": "true", "starting_after": 3}
    )
    assert [e["sequence_number"] for e in later] == [e["sequence_number"] for e in events[4:]]


def test_sdk_stream_resume_by_response_id(client: openai.OpenAI) -> None:
    created = client.responses.create(model="m", input=TEXT)
    with client.responses.stream(response_id=created.id, starting_after=2) as stream:
        kinds = [e.type for e in stream]
        final = stream.get_final_response()
    assert final.output_text == created.output_text
    assert "response.created" not in kinds


def test_replay_of_unknown_response_is_404(http: httpx.Client) -> None:
    response = http.get("/v1/responses/resp_unknown", params={"stream": "true"})
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "invalid_request_error"
