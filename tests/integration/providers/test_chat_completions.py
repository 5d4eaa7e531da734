"""The Chat Completions bridge against a real HTTP server speaking Chat Completions."""

from __future__ import annotations

import socket
from typing import Any

import jsonschema
import orjson
import pytest

from pilothouse.errors import UpstreamError
from pilothouse.runtime.providers.auth import NoAuth
from pilothouse.runtime.providers.base import ModelRequest, ModelResult
from pilothouse.runtime.providers.chat_completions import ChatCompletionsProvider
from pilothouse.runtime.providers.scripted import request_tokens
from pilothouse.testing import FakeUpstream
from tests.unit.runtime.providers.canonical import check_canonical, without_ids

TICKET_TOOL: dict[str, Any] = {
    "type": "function",
    "name": "get_ticket_status",
    "description": "The status of a service-desk ticket.",
    "parameters": {
        "type": "object",
        "properties": {"ticket_id": {"type": "string", "pattern": "^[A-Z]+-[0-9]+$"}},
        "required": ["ticket_id"],
        "additionalProperties": False,
    },
    "strict": True,
}


def _ask(text: str, **kwargs: Any) -> ModelRequest:
    return ModelRequest(
        "qwen3-8b",
        [{"type": "message", "role": "user", "content": text}],
        instructions="You are the service desk.",
        **kwargs,
    )


async def _stream(
    provider: ChatCompletionsProvider, request: ModelRequest
) -> tuple[list[dict[str, Any]], ModelResult]:
    events: list[dict[str, Any]] = []
    async for item in provider.stream(request):
        if isinstance(item, ModelResult):
            return events, item
        events.append(item)
    raise AssertionError("the stream ended without a result")


async def test_text_answer_and_what_reaches_the_server(
    chat: ChatCompletionsProvider, fake: FakeUpstream
) -> None:
    request = _ask("Is the VPN down?", headers={"traceparent": "00-abc-def-01"})
    result = await chat.complete(request)

    assert result.status == "completed"
    [message] = result.output
    assert message["type"] == "message" and message["role"] == "assistant"
    assert message["content"] == [
        {"type": "output_text", "text": "You said: Is the VPN down?", "annotations": []}
    ]
    assert result.usage is not None and result.usage["input_tokens"] > 0
    assert set(result.usage) >= {"input_tokens_details", "output_tokens_details"}

    [sent] = fake.requests
    assert sent.method == "POST" and sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer sk-local"
    assert sent.headers["x-team"] == "service-desk"
    assert sent.headers["traceparent"] == "00-abc-def-01"
    assert sent.body == {
        "model": "qwen3-8b",
        "messages": [
            {"role": "system", "content": "You are the service desk."},
            {"role": "user", "content": "Is the VPN down?"},
        ],
    }


async def test_tool_call_arguments_are_valid_for_the_schema(
    chat: ChatCompletionsProvider, fake: FakeUpstream
) -> None:
    result = await chat.complete(_ask("Check ticket INC-24531.", tools=[TICKET_TOOL]))

    [call] = result.output
    assert call["type"] == "function_call" and call["name"] == "get_ticket_status"
    assert call["call_id"].startswith("call_")
    jsonschema.validate(orjson.loads(call["arguments"]), TICKET_TOOL["parameters"])
    assert orjson.loads(call["arguments"]) == {"ticket_id": "INC-24531"}
    assert fake.requests[0].body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_ticket_status",
                "description": "The status of a service-desk ticket.",
                "parameters": TICKET_TOOL["parameters"],
                "strict": True,
            },
        }
    ]


async def test_tool_round_trip_ends_in_an_answer_from_the_result(
    chat: ChatCompletionsProvider, fake: FakeUpstream
) -> None:
    first = _ask("Check ticket INC-24531.", tools=[TICKET_TOOL])
    [call] = (await chat.complete(first)).output
    output = {
        "type": "function_call_output",
        "call_id": call["call_id"],
        "output": "open, network team",
    }
    second = _ask("Check ticket INC-24531.", tools=[TICKET_TOOL])
    second.input += [call, output]

    result = await chat.complete(second)

    [answer] = result.output
    assert answer["type"] == "message"
    assert answer["content"][0]["text"] == (
        "Here is what I found. get_ticket_status: open, network team"
    )
    messages = fake.requests[1].body["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool"]
    assert messages[2]["tool_calls"] == [
        {
            "id": call["call_id"],
            "type": "function",
            "function": {"name": "get_ticket_status", "arguments": call["arguments"]},
        }
    ]
    assert messages[3] == {
        "role": "tool",
        "tool_call_id": call["call_id"],
        "content": "open, network team",
    }


@pytest.mark.parametrize(
    "request_",
    [
        _ask("Summarise the outage in one line."),
        _ask("Check ticket INC-24531.", tools=[TICKET_TOOL]),
    ],
    ids=["text", "tool-call"],
)
async def test_streaming_gives_what_complete_gives_in_canonical_events(
    chat: ChatCompletionsProvider, fake: FakeUpstream, request_: ModelRequest
) -> None:
    whole = await chat.complete(request_)
    events, streamed = await _stream(chat, request_)

    assert check_canonical(events) == streamed.output
    assert without_ids(streamed.output) == without_ids(whole.output)
    assert streamed.usage == whole.usage and streamed.usage is not None
    assert streamed.status == whole.status == "completed"
    sent = fake.requests[1].body
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert fake.requests[1].headers["accept"] == "text/event-stream"


async def test_function_call_stream_carries_its_arguments(chat: ChatCompletionsProvider) -> None:
    events, result = await _stream(chat, _ask("Check ticket INC-24531.", tools=[TICKET_TOOL]))

    kinds = [e["type"] for e in events]
    assert kinds[0] == "response.output_item.added" and kinds[-1] == "response.output_item.done"
    assert "response.function_call_arguments.delta" in kinds
    done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
    assert orjson.loads(done["arguments"]) == {"ticket_id": "INC-24531"}
    assert result.output[0]["arguments"] == done["arguments"]


async def test_format_and_sampling_settings_reach_the_server(
    chat: ChatCompletionsProvider, fake: FakeUpstream
) -> None:
    schema = {
        "type": "object",
        "properties": {"severity": {"type": "string", "enum": ["low", "high"]}},
        "required": ["severity"],
        "additionalProperties": False,
    }
    options = {
        "text": {
            "format": {"type": "json_schema", "name": "triage", "schema": schema, "strict": True}
        },
        "max_output_tokens": 256,
        "temperature": 0.1,
        "top_p": 0.5,
    }
    await chat.complete(_ask("Triage this.", options=options))

    body = fake.requests[0].body
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "triage", "schema": schema, "strict": True},
    }
    assert body["max_tokens"] == 256 and "max_completion_tokens" not in body
    assert (body["temperature"], body["top_p"]) == (0.1, 0.5)
    assert "text" not in body and "max_output_tokens" not in body


async def test_cached_and_reasoning_tokens_are_reported(
    chat: ChatCompletionsProvider, fake: FakeUpstream
) -> None:
    fake.usage = {
        "prompt_tokens": 900,
        "completion_tokens": 40,
        "total_tokens": 940,
        "prompt_tokens_details": {"cached_tokens": 768},
        "completion_tokens_details": {"reasoning_tokens": 12},
    }
    expected = {
        "input_tokens": 900,
        "input_tokens_details": {"cached_tokens": 768},
        "output_tokens": 40,
        "output_tokens_details": {"reasoning_tokens": 12},
        "total_tokens": 940,
    }
    assert (await chat.complete(_ask("hello"))).usage == expected
    assert (await _stream(chat, _ask("hello")))[1].usage == expected


@pytest.mark.parametrize(
    ("status", "retry_after", "code"),
    [
        (429, 7.0, "rate_limit_exceeded"),
        (500, None, "upstream_error"),
        (401, None, "upstream_error"),
    ],
)
async def test_upstream_errors_keep_status_and_retry_after(
    chat: ChatCompletionsProvider,
    fake: FakeUpstream,
    status: int,
    retry_after: float | None,
    code: str,
) -> None:
    fake.fail(status, times=2, retry_after=retry_after, message="upstream says no")

    with pytest.raises(UpstreamError) as complete_error:
        await chat.complete(_ask("hello"))
    with pytest.raises(UpstreamError) as stream_error:
        await _stream(chat, _ask("hello"))

    for caught in (complete_error, stream_error):
        assert caught.value.status == status
        assert caught.value.code == code
        assert caught.value.retry_after == retry_after
        assert caught.value.message == "upstream says no"


async def test_an_unreachable_server_is_a_transient_502() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = ChatCompletionsProvider(
        "gone", f"http://127.0.0.1:{port}/v1/chat/completions", NoAuth()
    )
    try:
        with pytest.raises(UpstreamError) as caught:
            await provider.complete(_ask("hello"))
    finally:
        await provider.aclose()
    assert (caught.value.status, caught.value.code) == (502, "upstream_unreachable")


async def test_token_count_is_a_local_conservative_estimate(
    chat: ChatCompletionsProvider, fake: FakeUpstream
) -> None:
    request = _ask("Check ticket INC-24531 and notify the network team.", tools=[TICKET_TOOL])
    count = await chat.count_input_tokens(request)
    assert count >= request_tokens(request)
    assert fake.requests == []
