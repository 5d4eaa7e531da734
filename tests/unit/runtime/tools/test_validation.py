"""Schema checks: precise messages with JSON paths, output validation, bad schemas."""

from __future__ import annotations

from typing import Any

import pytest

from pilothouse.control.tool_contract import PythonBinding, ToolContract
from pilothouse.runtime.tools.base import ToolFailure
from pilothouse.runtime.tools.validation import OutputValidation, SchemaValidators, json_path

from .conftest import ScriptedAdapter, make_call

INPUT = {
    "type": "object",
    "properties": {
        "ticket_id": {"type": "string", "pattern": "^T-[0-9]+$"},
        "items": {
            "type": "array",
            "items": {"type": "object", "properties": {"name": {"type": "string"}}},
        },
    },
    "required": ["ticket_id"],
    "additionalProperties": False,
}
OUTPUT = {"type": "object", "required": ["status"], "properties": {"status": {"enum": ["open"]}}}


def contract(**fields: Any) -> ToolContract:
    return ToolContract(
        name="desk",
        adapter=PythonBinding(type="python", target="m:f"),
        **fields,
    )


def test_arguments_errors_name_the_json_path() -> None:
    validators = SchemaValidators([contract(input_schema=INPUT)])
    assert validators.check_arguments("desk", {"ticket_id": "T-1"}) is None
    message = validators.check_arguments("desk", {"ticket_id": "T-1", "items": [{}, {"name": 3}]})
    assert message == '$.items[1].name: 3 is not of type "string"'
    message = validators.check_arguments("desk", {"ticket_id": "X"})
    assert message is not None and message.startswith("$.ticket_id: ")
    missing = validators.check_arguments("desk", {"extra": True})
    assert missing is not None and "ticket_id" in missing and "extra" in missing


def test_json_paths_quote_keys_that_are_not_identifiers() -> None:
    assert json_path(["a", 0, "b c"]) == "$.a[0]['b c']"


def test_an_invalid_schema_fails_when_the_validators_are_built() -> None:
    with pytest.raises(ValueError, match="'desk' has an invalid input schema"):
        SchemaValidators([contract(input_schema={"type": "nope"})])


def test_a_remote_ref_is_refused_not_fetched() -> None:
    schema = {"type": "object", "properties": {"a": {"$ref": "https://example.com/s.json"}}}
    with pytest.raises(ValueError, match="invalid input schema"):
        SchemaValidators([contract(input_schema=schema)])


async def test_output_validation_fails_fast_and_non_retryably() -> None:
    validators = SchemaValidators([contract(output_schema=OUTPUT)])
    good = OutputValidation(ScriptedAdapter({"status": "open"}), validators)
    assert await good.invoke(make_call("desk"), 1.0) == {"status": "open"}
    bad = OutputValidation(ScriptedAdapter({"status": "closed"}), validators)
    with pytest.raises(ToolFailure) as caught:
        await bad.invoke(make_call("desk"), 1.0)
    assert (caught.value.code, caught.value.retryable) == ("invalid_output", False)
    assert "$.status" in caught.value.message
