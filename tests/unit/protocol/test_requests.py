"""Request validation: the ``param`` path of every error."""

from __future__ import annotations

from typing import Any

import pytest

from pilothouse.errors import InvalidRequest
from pilothouse.protocol.items import normalize_input
from pilothouse.protocol.requests import CreateResponse, check_metadata, parse


def _param(body: dict[str, Any]) -> str | None:
    with pytest.raises(InvalidRequest) as caught:
        parse(CreateResponse, body)
    return caught.value.param


def test_nested_item_errors_name_the_item() -> None:
    assert _param({"input": [{"role": "user", "content": "ok"}, {"role": "x"}]}) == "input[1].role"
    content = [{"type": "input_text"}]
    assert _param({"input": [{"role": "user", "content": content}]}) == "input[0].content[0].text"


def test_type_errors_name_the_field() -> None:
    assert _param({"temperature": "hot"}) == "temperature"
    assert _param({"metadata": {"a": 1}}) == "metadata"
    assert _param({"input": 5}) == "input"


def test_unknown_keys_are_kept_as_extras() -> None:
    parsed = parse(CreateResponse, {"model": "m", "agent_reference": {"name": "a"}, "x": 1})
    assert parsed.extras == {"agent_reference": {"name": "a"}, "x": 1}


def test_conversation_id_accepts_string_or_object() -> None:
    assert CreateResponse(conversation="conv_1").conversation_id == "conv_1"
    assert CreateResponse(conversation={"id": "conv_2"}).conversation_id == "conv_2"


def test_metadata_limits() -> None:
    assert check_metadata({"k" * 64: "v" * 512}) == {"k" * 64: "v" * 512}
    for bad in ({str(i): "v" for i in range(17)}, {"k" * 65: "v"}, {"k": "v" * 513}):
        with pytest.raises(ValueError):
            check_metadata(bad)


def test_normalize_input_gives_ids_and_list_content() -> None:
    items = normalize_input(
        [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"type": "function_call_output", "call_id": "call_1", "output": "42"},
        ]
    )
    assert items[0]["content"] == [{"type": "input_text", "text": "hi"}]
    assert items[1]["content"] == [{"type": "output_text", "text": "hello", "annotations": []}]
    assert [i["id"][:4] for i in items] == ["msg_", "msg_", "fco_"]
    assert all(i["status"] == "completed" for i in items)
