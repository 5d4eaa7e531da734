"""Contract fixtures: valid values validate, invalid ones break exactly what they say."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import jsonschema_rs
import pytest

from pilothouse.control.contracts.fixtures import (
    contract_fixtures,
    side_fixtures,
    write_fixtures,
)
from pilothouse.control.contracts.patterns import matching_string, missing_string
from pilothouse.control.tool_contract import ToolContract


def sides(tools: dict[str, ToolContract]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name in sorted(tools):
        document = contract_fixtures(tools[name])
        found += [(f"{name} {s}", document[s]) for s in ("input", "output") if document[s]]
    return found


def test_examples_agree_with_both_validators(bundle_tools: dict[str, ToolContract]) -> None:
    for label, side in sides(bundle_tools):
        validator = jsonschema_rs.validator_for(side["schema"])
        reference = jsonschema.Draft202012Validator(side["schema"])
        assert side["valid"], label
        for example in side["valid"]:
            assert validator.is_valid(example["value"]), (label, example)
        for example in side["invalid"]:
            assert not validator.is_valid(example["value"]), (label, example["name"])
            failed = {e.validator for e in reference.iter_errors(example["value"])}
            assert failed == {example["violates"]}, (label, example["name"])
            assert example["name"] == f"{example['violates']}:{example['pointer'] or '/'}"
            assert example["note"]


def test_every_kind_of_violation_is_produced(orders_tools: dict[str, ToolContract]) -> None:
    kinds = {inv["violates"] for _, side in sides(orders_tools) for inv in side["invalid"]}
    assert kinds == {
        "required",
        "type",
        "enum",
        "const",
        "minLength",
        "maxLength",
        "pattern",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "minItems",
        "maxItems",
        "additionalProperties",
    }


def test_nested_and_referenced_nodes_are_broken(orders_tools: dict[str, ToolContract]) -> None:
    document = contract_fixtures(orders_tools["create_order"])
    names = {inv["name"] for inv in document["input"]["invalid"]}
    assert {
        "required:/customer/name",
        "pattern:/lines/0/sku",
        "enum:/shipping/country",
        "additionalProperties:/lines/0/unexpected_property",
    } <= names
    valid = {v["name"]: v["value"] for v in document["input"]["valid"]}
    assert set(valid["minimal"]) == {"customer", "lines", "shipping"}
    assert "metadata" in valid["full"] and "requested_at" in valid["full"]


def test_fixtures_are_deterministic_and_written(
    orders_tools: dict[str, ToolContract], tmp_path: Path
) -> None:
    first = write_fixtures(orders_tools, tmp_path / "a")
    second = write_fixtures(orders_tools, tmp_path / "b")
    assert [p.name for p in first] == ["create_order.json", "org-tree.json", "ping.json"]
    for one, two in zip(first, second, strict=True):
        assert one.read_text() == two.read_text()
    document = json.loads(first[0].read_text())
    assert document["schema_version"] == 1 and document["tool"] == "create_order"


def test_a_schema_without_a_findable_value_gets_no_examples() -> None:
    impossible = {"type": "string", "pattern": "^[a-z]{10}$", "maxLength": 3}
    fixtures = side_fixtures(impossible)
    assert fixtures.valid == [] and fixtures.invalid == []


def test_recursive_schema_keeps_the_finite_example(orders_tools: dict[str, ToolContract]) -> None:
    output = contract_fixtures(orders_tools["org-tree"])["output"]
    assert [v["name"] for v in output["valid"]] == ["minimal"]
    assert output["valid"][0]["value"] == {"name": "name"}


@pytest.mark.parametrize(
    ("pattern", "low", "high"),
    [("^[A-Z]+-[0-9]+$", 0, None), ("^[0-9]{5}$", 5, 5), ("^(foo|bar)\\w*$", 3, 8)],
)
def test_matching_and_missing_strings(pattern: str, low: int, high: int | None) -> None:
    import re

    text = matching_string(pattern, low, high)
    assert text is not None and re.search(pattern, text)
    assert low <= len(text) and (high is None or len(text) <= high)
    assert matching_string(pattern, low, high) == text
    miss = missing_string(pattern, low, high)
    assert miss is not None and not re.search(pattern, miss)


def test_unusable_patterns() -> None:
    assert matching_string("([unclosed") is None
    assert missing_string("([unclosed") is None
    assert missing_string(".*") is None
