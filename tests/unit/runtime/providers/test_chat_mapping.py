"""Responses ⇄ Chat Completions mapping: request bodies, answers and usage."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from pilothouse.errors import InvalidRequest, UpstreamError
from pilothouse.runtime.providers.base import ModelRequest
from pilothouse.runtime.providers.chat_mapping import (
    IMAGE_TOKENS,
    chat_body,
    estimate_input_tokens,
    result_from_completion,
)
from pilothouse.runtime.providers.scripted import request_tokens

LOOKUP = {
    "type": "function",
    "name": "lookup",
    "description": "Find a ticket.",
    "parameters": {"type": "object", "properties": {"id": {"type": "string"}}},
    "strict": True,
}
NOTIFY = {"type": "function", "name": "notify", "parameters": {"type": "object"}}


def _user(content: Any) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": content}


def test_history_becomes_chat_messages() -> None:
    request = ModelRequest(
        "local-model",
        [
            {"role": "developer", "content": "Answer briefly."},
            _user(
                [
                    {"type": "input_text", "text": "What is on this screen?"},
                    {"type": "input_image", "image_url": "data:image/png;base64,AAAA"},
                ]
            ),
            {
                "type": "message",
                "id": "msg_1",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": "Let me look.", "annotations": []}],
            },
            {"type": "function_call", "call_id": "call_a", "name": "lookup", "arguments": "{}"},
            {"type": "function_call", "call_id": "call_b", "name": "notify", "arguments": "{}"},
            {"type": "reasoning", "id": "rs_1", "summary": []},
            {"type": "function_call_output", "call_id": "call_a", "output": "open"},
            {
                "type": "function_call_output",
                "call_id": "call_b",
                "output": [{"type": "input_text", "text": "sent"}],
            },
        ],
        instructions="You are the service desk.",
    )
    assert chat_body(request, stream=False)["messages"] == [
        {"role": "system", "content": "You are the service desk."},
        {"role": "system", "content": "Answer briefly."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is on this screen?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            ],
        },
        {
            "role": "assistant",
            "content": "Let me look.",
            "tool_calls": [
                {
                    "id": "call_a",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": "{}"},
                },
                {
                    "id": "call_b",
                    "type": "function",
                    "function": {"name": "notify", "arguments": "{}"},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_a", "content": "open"},
        {"role": "tool", "tool_call_id": "call_b", "content": "sent"},
    ]


def test_tools_choice_and_options_map_to_chat_names() -> None:
    request = ModelRequest(
        "local-model",
        [_user("hi")],
        tools=[LOOKUP, NOTIFY],
        options={
            "tool_choice": {"type": "function", "name": "lookup"},
            "parallel_tool_calls": False,
            "max_output_tokens": 64,
            "temperature": 0.2,
            "top_p": 0.9,
            "reasoning": {"effort": "low"},
            "service_tier": "flex",
            "truncation": "auto",
            "text": {
                "format": {
                    "type": "json_schema",
                    "name": "ticket",
                    "schema": {"type": "object", "properties": {"id": {"type": "string"}}},
                    "strict": True,
                },
                "verbosity": "low",
            },
        },
        extra={"top_k": 20},
    )
    body = chat_body(request, stream=True)
    assert body["tools"][0] == {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Find a ticket.",
            "parameters": LOOKUP["parameters"],
            "strict": True,
        },
    }
    assert body["tools"][1] == {
        "type": "function",
        "function": {"name": "notify", "parameters": {"type": "object"}},
    }
    assert body["tool_choice"] == {"type": "function", "function": {"name": "lookup"}}
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {
            "name": "ticket",
            "schema": {"type": "object", "properties": {"id": {"type": "string"}}},
            "strict": True,
        },
    }
    assert body["max_tokens"] == 64 and "max_completion_tokens" not in body
    assert (body["temperature"], body["top_p"], body["parallel_tool_calls"]) == (0.2, 0.9, False)
    assert body["reasoning_effort"] == "low"
    assert body["top_k"] == 20
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    for openai_only in ("service_tier", "truncation", "verbosity", "text", "reasoning"):
        assert openai_only not in body


def test_allowed_tools_choice_sends_only_the_allowed_tools() -> None:
    choice = {
        "type": "allowed_tools",
        "mode": "required",
        "tools": [{"type": "function", "name": "notify"}],
    }
    body = chat_body(
        ModelRequest("m", [_user("hi")], tools=[LOOKUP, NOTIFY], options={"tool_choice": choice}),
        stream=False,
    )
    assert [t["function"]["name"] for t in body["tools"]] == ["notify"]
    assert body["tool_choice"] == "required"
    assert "stream" not in body and "stream_options" not in body


@pytest.mark.parametrize(
    ("request_", "param"),
    [
        (ModelRequest("m", [_user("hi")], tools=[{"type": "web_search"}]), "tools[0]"),
        (
            ModelRequest("m", [_user([{"type": "input_file", "file_id": "file_1"}])]),
            "input[0].content[0]",
        ),
        (
            ModelRequest("m", [_user([{"type": "input_image", "file_id": "file_1"}])]),
            "input[0].content[0]",
        ),
        (ModelRequest("m", [{"type": "item_reference", "id": "msg_1"}]), "input[0]"),
        (
            ModelRequest("m", [_user("hi")], options={"tool_choice": {"type": "web_search"}}),
            "tool_choice",
        ),
    ],
)
def test_what_chat_cannot_carry_is_refused_by_name(request_: ModelRequest, param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        chat_body(request_, stream=False)
    assert caught.value.param == param
    assert "Chat Completions" in caught.value.message


def test_a_cut_off_answer_is_incomplete_with_full_usage() -> None:
    result = result_from_completion(
        {
            "model": "qwen3-8b",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "The ticket"},
                    "finish_reason": "length",
                }
            ],
            "usage": {
                "prompt_tokens": 120,
                "completion_tokens": 2,
                "total_tokens": 122,
                "prompt_tokens_details": {"cached_tokens": 100},
                "completion_tokens_details": {"reasoning_tokens": 1},
            },
        }
    )
    assert result.status == "incomplete"
    assert result.incomplete_details == {"reason": "max_output_tokens"}
    assert result.output[0]["status"] == "incomplete"
    assert result.output[0]["content"][0]["text"] == "The ticket"
    assert result.model == "qwen3-8b"
    assert result.usage == {
        "input_tokens": 120,
        "input_tokens_details": {"cached_tokens": 100},
        "output_tokens": 2,
        "output_tokens_details": {"reasoning_tokens": 1},
        "total_tokens": 122,
    }


def test_tool_calls_become_function_calls_and_whitespace_text_is_dropped() -> None:
    result = result_from_completion(
        {
            "choices": [
                {
                    "message": {
                        "role": "assistant",
                        "content": "\n\n",
                        "tool_calls": [
                            {
                                "id": "call_1",
                                "type": "function",
                                "function": {"name": "lookup", "arguments": '{"id":"INC-1"}'},
                            },
                            # Some servers send arguments as an object rather than JSON text.
                            {
                                "id": "call_2",
                                "type": "function",
                                "function": {"name": "notify", "arguments": {"to": "ops"}},
                            },
                        ],
                    },
                    "finish_reason": "tool_calls",
                }
            ]
        }
    )
    assert result.status == "completed" and result.usage is None
    assert [(i["type"], i["call_id"], i["name"], i["arguments"]) for i in result.output] == [
        ("function_call", "call_1", "lookup", '{"id":"INC-1"}'),
        ("function_call", "call_2", "notify", '{"to":"ops"}'),
    ]


def test_a_completion_without_choices_is_a_bad_upstream_response() -> None:
    with pytest.raises(UpstreamError) as caught:
        result_from_completion({"object": "chat.completion", "choices": []})
    assert caught.value.code == "upstream_bad_response"
    assert caught.value.status == 502


def test_token_estimate_over_counts_text_and_prices_images_flat() -> None:
    text = "Check ticket INC-24531 and tell me who owns it, then notify the on-call engineer."
    request = ModelRequest(
        "m", [_user(text)], instructions="You are the service desk.", tools=[LOOKUP]
    )
    estimate = estimate_input_tokens(chat_body(request, stream=False))
    assert estimate >= request_tokens(request)
    assert estimate >= len(orjson.dumps(text)) / 4  # at least the usual 4 bytes per token

    image = {"type": "input_image", "image_url": "data:image/png;base64," + "A" * 200_000}
    with_image = ModelRequest("m", [_user([{"type": "input_text", "text": text}, image])])
    alone = ModelRequest("m", [_user([{"type": "input_text", "text": text}])])
    difference = estimate_input_tokens(chat_body(with_image, stream=False)) - estimate_input_tokens(
        chat_body(alone, stream=False)
    )
    assert IMAGE_TOKENS <= difference < IMAGE_TOKENS + 20
