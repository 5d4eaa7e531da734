"""Chat chunks → canonical Responses item events, as real servers fragment them."""

from __future__ import annotations

from typing import Any

import pytest

from pilothouse.errors import UpstreamError
from pilothouse.runtime.providers.base import ModelResult
from pilothouse.runtime.providers.chat_mapping import result_from_completion
from pilothouse.runtime.providers.chat_stream import ChatStreamAssembler
from tests.unit.runtime.providers.canonical import check_canonical, without_ids


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "object": "chat.completion.chunk",
        "model": "qwen3-8b",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _call(
    index: int, arguments: str, call_id: str | None = None, name: str | None = None
) -> dict[str, Any]:
    fragment: dict[str, Any] = {"index": index, "function": {"arguments": arguments}}
    if call_id is not None:
        fragment |= {"id": call_id, "type": "function"}
        fragment["function"]["name"] = name
    return {"tool_calls": [fragment]}


USAGE = {"prompt_tokens": 50, "completion_tokens": 30, "total_tokens": 80}

# Text, then two parallel tool calls whose arguments arrive in pieces (OpenAI and vLLM
# send the id and name first, then argument fragments carrying only the index), then a
# usage-only chunk, as ``stream_options.include_usage`` asks.
FRAGMENTED = [
    _chunk({"role": "assistant", "content": ""}),
    _chunk({"content": "Let me "}),
    _chunk({"content": "check."}),
    _chunk(_call(0, "", "call_a", "lookup")),
    _chunk(_call(0, '{"id": ')),
    _chunk(_call(0, '"INC-1"}')),
    _chunk(_call(1, '{"to":', "call_b", "notify")),
    _chunk(_call(1, ' "ops"}')),
    _chunk({"content": "\n"}),  # trailing whitespace after tool calls, as local models emit
    _chunk({}, "tool_calls"),
    {"object": "chat.completion.chunk", "model": "qwen3-8b", "choices": [], "usage": USAGE},
]


def _run(chunks: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], ModelResult]:
    assembler = ChatStreamAssembler()
    events = [event for chunk in chunks for event in assembler.feed(chunk)]
    closing, result = assembler.finish()
    return events + closing, result


def test_fragmented_text_and_tool_calls_stream_canonically() -> None:
    events, result = _run(FRAGMENTED)
    done = check_canonical(events)
    assert done == result.output
    assert [e["type"] for e in events] == [
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
    ]
    assert events[7]["item"]["arguments"] == "" and events[7]["item"]["status"] == "in_progress"
    assert [(i.get("call_id"), i.get("arguments")) for i in result.output[1:]] == [
        ("call_a", '{"id": "INC-1"}'),
        ("call_b", '{"to": "ops"}'),
    ]
    assert result.usage is not None and result.usage["total_tokens"] == 80
    assert result.model == "qwen3-8b" and result.status == "completed"


def test_stream_gives_the_same_items_as_the_whole_completion() -> None:
    _, streamed = _run(FRAGMENTED)
    whole = result_from_completion(
        {
            "model": "qwen3-8b",
            "usage": USAGE,
            "choices": [
                {
                    "finish_reason": "tool_calls",
                    "message": {
                        "role": "assistant",
                        "content": "Let me check.",
                        "tool_calls": [
                            {
                                "id": "call_a",
                                "type": "function",
                                "function": {"name": "lookup", "arguments": '{"id": "INC-1"}'},
                            },
                            {
                                "id": "call_b",
                                "type": "function",
                                "function": {"name": "notify", "arguments": '{"to": "ops"}'},
                            },
                        ],
                    },
                }
            ],
        }
    )
    assert without_ids(streamed.output) == without_ids(whole.output)
    assert [i.get("call_id") for i in streamed.output] == [i.get("call_id") for i in whole.output]
    assert streamed.usage == whole.usage


def test_cut_off_stream_marks_the_last_item_incomplete() -> None:
    events, result = _run(
        [_chunk({"content": "  "}), _chunk({"content": "The ticket is"}), _chunk({}, "length")]
    )
    check_canonical(events)
    assert result.status == "incomplete"
    assert result.incomplete_details == {"reason": "max_output_tokens"}
    assert result.output[0]["status"] == "incomplete"
    assert result.output[0]["content"][0]["text"] == "  The ticket is"
    assert result.usage is None  # the server sent none


def test_an_empty_answer_is_still_one_message() -> None:
    events, result = _run([_chunk({"role": "assistant"}), _chunk({}, "stop")])
    done = check_canonical(events)
    assert [i["type"] for i in done] == ["message"]
    assert result.output[0]["content"][0]["text"] == ""


def test_interleaved_tool_call_fragments_are_a_bad_response() -> None:
    assembler = ChatStreamAssembler()
    assembler.feed(_chunk(_call(0, "{", "call_a", "lookup")))
    assembler.feed(_chunk(_call(1, "{", "call_b", "notify")))
    with pytest.raises(UpstreamError) as caught:
        assembler.feed(_chunk(_call(0, "}")))
    assert caught.value.code == "upstream_bad_response"


def test_a_stream_without_finish_reason_was_cut_off() -> None:
    assembler = ChatStreamAssembler()
    assembler.feed(_chunk({"content": "Hel"}))
    with pytest.raises(UpstreamError) as caught:
        assembler.finish()
    assert caught.value.code == "upstream_stream_truncated"
    assert caught.value.status == 502


@pytest.mark.parametrize(
    "chunk",
    [
        {"error": {"message": "model overloaded", "type": "server_error", "code": "overloaded"}},
        {
            "object": "error",
            "message": "model overloaded",
            "type": "ServiceUnavailable",
            "code": 503,
        },
    ],
)
def test_error_chunks_raise(chunk: dict[str, Any]) -> None:
    with pytest.raises(UpstreamError) as caught:
        ChatStreamAssembler().feed(chunk)
    assert caught.value.message == "model overloaded"
