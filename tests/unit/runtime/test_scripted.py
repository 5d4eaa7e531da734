"""The offline model: tool calls valid for their schemas, answers, scripts and usage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pilothouse.control.schema_values import Hints, example
from pilothouse.errors import UpstreamError
from pilothouse.runtime.providers.base import ModelRequest
from pilothouse.runtime.providers.scripted import ScriptedProvider, count_tokens

TICKET_TOOL = {
    "type": "function",
    "name": "get_ticket_status",
    "parameters": {
        "type": "object",
        "properties": {"ticket_id": {"type": "string", "pattern": "^[A-Z]+-[0-9]+$"}},
        "required": ["ticket_id"],
        "additionalProperties": False,
    },
}


def _user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": text}


async def test_calls_tools_with_hints_then_answers_from_results() -> None:
    model = ScriptedProvider()
    history = [_user("Check ticket INC-24531 and summarise.")]
    first = await model.complete(ModelRequest("m", history, tools=[TICKET_TOOL]))
    call = first.output[0]
    assert call["type"] == "function_call"
    assert orjson.loads(call["arguments"]) == {"ticket_id": "INC-24531"}
    history += [
        call,
        {"type": "function_call_output", "call_id": call["call_id"], "output": "open"},
    ]
    second = await model.complete(ModelRequest("m", history, tools=[TICKET_TOOL]))
    assert second.output[0]["content"][0]["text"] == (
        "Here is what I found. get_ticket_status: open"
    )


async def test_script_dictates_turns_by_history(tmp_path: Path) -> None:
    script = tmp_path / "turns.yaml"
    script.write_text(
        "turns:\n"
        "  - tool_calls: [{name: get_ticket_status, arguments: {ticket_id: X-1}}]\n"
        "  - text: done\n"
        "  - error: {status: 429, message: slow down, retry_after: 2}\n"
    )
    model = ScriptedProvider.from_file(script)
    first = await model.complete(ModelRequest("m", [_user("go")]))
    assert first.output[0]["name"] == "get_ticket_status"
    history = [
        _user("go"),
        first.output[0],
        {"type": "function_call_output", "call_id": "c", "output": "ok"},
    ]
    second = await model.complete(ModelRequest("m", history))
    assert second.output[0]["content"][0]["text"] == "done"
    third_history = [*history, second.output[0], _user("again")]
    with pytest.raises(UpstreamError) as caught:
        await model.complete(ModelRequest("m", third_history))
    assert caught.value.status == 429 and caught.value.retry_after == 2


def test_token_counts_are_words_and_punctuation() -> None:
    assert count_tokens("Hello, world!") == 4
    assert count_tokens("") == 0


_SCHEMAS = st.recursive(
    st.sampled_from(
        [
            {"type": "string"},
            {"type": "string", "minLength": 3, "maxLength": 5},
            {"type": "string", "format": "email"},
            {"type": "integer", "minimum": 10, "maximum": 12},
            {"type": "integer", "exclusiveMaximum": 0},
            {"type": "number", "minimum": -2.5},
            {"type": "boolean"},
            {"type": "null"},
            {"enum": ["a", "b"]},
            {"const": 7},
            {"type": ["string", "null"]},
        ]
    ),
    lambda inner: st.one_of(
        st.builds(
            lambda props: {
                "type": "object",
                "properties": props,
                "required": list(props),
                "additionalProperties": False,
            },
            st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True), inner, max_size=4),
        ),
        st.builds(lambda items: {"type": "array", "items": items, "minItems": 2}, inner),
        st.builds(lambda options: {"anyOf": options}, st.lists(inner, min_size=1, max_size=3)),
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(schema=_SCHEMAS, text=st.text(max_size=40))
def test_examples_validate_against_their_schema(schema: dict[str, Any], text: str) -> None:
    value = example(schema, Hints.from_text(text))
    jsonschema.validate(value, schema)


def test_refs_are_followed() -> None:
    schema = {
        "type": "object",
        "properties": {"owner": {"$ref": "#/$defs/person"}},
        "required": ["owner"],
        "$defs": {
            "person": {
                "type": "object",
                "properties": {"email": {"format": "email", "type": "string"}},
            }
        },
    }
    value = example(schema)
    jsonschema.validate(value, schema)
    assert value == {"owner": {"email": "user@example.com"}}
