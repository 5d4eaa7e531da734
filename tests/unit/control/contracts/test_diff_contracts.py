"""Contract-level diffs: tools added and removed, non-schema fields, the report's forms."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pilothouse.control.contracts import (
    ChangeClass,
    ContractLoadError,
    classify,
    diff_contracts,
    load_contracts,
)
from pilothouse.control.tool_contract import ToolContract

EXAMPLE = Path(__file__).parents[4] / "examples" / "support-desk"


def contract(**overrides: Any) -> ToolContract:
    data: dict[str, Any] = {
        "name": "lookup",
        "description": "Look a thing up.",
        "input_schema": {"type": "object", "properties": {"id": {"type": "string"}}},
        "output_schema": {"type": "object", "properties": {"name": {"type": "string"}}},
        "adapter": {"type": "http", "url": "http://127.0.0.1:9/lookup"},
    }
    return ToolContract.model_validate({**data, **overrides})


def summary(changes: list[Any]) -> list[tuple[str, str, str, str]]:
    return [(c.side, c.pointer, c.kind, c.change_class.value) for c in changes]


def test_identical_contracts_have_no_changes() -> None:
    assert classify(contract(), contract()) == []


def test_description_adapter_and_settings_are_info() -> None:
    new = contract(
        description="Look it up.",
        adapter={"type": "http", "url": "http://127.0.0.1:9/v2/lookup"},
        timeout_s=3,
    )
    assert summary(classify(contract(), new)) == [
        ("tool", "/description", "description_changed", "info"),
        ("tool", "/adapter", "adapter_changed", "info"),
        ("tool", "/timeout_s", "setting_changed", "info"),
    ]
    adapter = classify(contract(), new)[1]
    assert "/lookup" in adapter.message and "/v2/lookup" in adapter.message


def test_output_schema_added_is_compatible_and_removed_is_breaking() -> None:
    without = contract(output_schema=None)
    assert summary(classify(without, contract())) == [
        ("output", "", "output_schema_added", "compatible")
    ]
    assert summary(classify(contract(), without)) == [
        ("output", "", "output_schema_removed", "breaking")
    ]


def test_each_side_is_classified_on_its_own_direction() -> None:
    widened = {"type": "object", "properties": {"id": {"type": ["string", "null"]}}}
    new = contract(
        input_schema=widened,
        output_schema={**widened, "properties": {"name": {"type": ["string", "null"]}}},
    )
    assert summary(classify(contract(), new)) == [
        ("input", "/properties/id/type", "type_widened", "compatible"),
        ("output", "/properties/name/type", "type_widened", "breaking"),
    ]


def test_contract_and_schema_cannot_be_mixed() -> None:
    with pytest.raises(TypeError):
        classify(contract(), {"type": "object"})


def test_tools_added_and_removed() -> None:
    old = {"lookup": contract(), "gone": contract(name="gone")}
    new = {"lookup": contract(), "fresh": contract(name="fresh")}
    report = diff_contracts(old, new)
    assert summary(list(report.changes)) == [
        ("tool", "", "tool_added", "compatible"),
        ("tool", "", "tool_removed", "breaking"),
    ]
    assert [c.tool for c in report.changes] == ["fresh", "gone"]
    assert report.breaking and report.verdict == "breaking"
    assert report.old_tools == ("gone", "lookup") and report.new_tools == ("fresh", "lookup")


def test_report_json_shape() -> None:
    new = contract(input_schema={"type": "object", "properties": {"id": {"type": "integer"}}})
    report = diff_contracts({"lookup": contract()}, {"lookup": new})
    data = json.loads(report.to_json(allowed_breaking="migrating every caller today"))
    assert data == {
        "schema_version": 1,
        "verdict": "breaking",
        "breaking": True,
        "summary": {"breaking": 1, "compatible": 0, "info": 0},
        "tools": {"old": ["lookup"], "new": ["lookup"]},
        "changes": [
            {
                "tool": "lookup",
                "side": "input",
                "pointer": "/properties/id/type",
                "kind": "type_changed",
                "class": "breaking",
                "message": "type string -> integer",
            }
        ],
        "allowed_breaking": {"reason": "migrating every caller today"},
    }
    assert report.count(ChangeClass.BREAKING) == 1
    assert report.breaking_changes() == list(report.changes)


def test_report_text_and_verdicts() -> None:
    optional = {"type": "object", "properties": {"id": {"type": "string"}, "n": {}}}
    report = diff_contracts({"lookup": contract()}, {"lookup": contract(input_schema=optional)})
    assert not report.breaking and report.verdict == "compatible"
    assert report.to_text().splitlines() == [
        "COMPATIBLE lookup input#/properties/n: optional 'n' added [property_added]",
        "1 change(s): 0 breaking, 1 compatible, 0 info. Verdict: compatible.",
    ]
    assert diff_contracts({}, {}).verdict == "unchanged"


def test_bundle_compared_with_itself_is_unchanged() -> None:
    tools = load_contracts(EXAMPLE)
    assert set(tools) == {"add_incident_note", "get_ticket_status", "search_kb"}
    assert diff_contracts(tools, tools).changes == ()


def test_single_contract_file_loads() -> None:
    loaded = load_contracts(EXAMPLE / "tools" / "search_kb.json")
    assert list(loaded) == ["search_kb"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "cannot be parsed"),
        ('{"name": "x"}', "/adapter: Field required"),
    ],
)
def test_unreadable_contract_files(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "x.json"
    path.write_text(content)
    with pytest.raises(ContractLoadError) as caught:
        load_contracts(path)
    assert any(expected in problem for problem in caught.value.problems)


def test_invalid_bundle_lists_its_problems(tmp_path: Path) -> None:
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "a.json").write_text(json.dumps(contract().model_dump()))
    with pytest.raises(ContractLoadError) as caught:
        load_contracts(tmp_path)
    assert any("differs from the file name" in p for p in caught.value.problems)
    with pytest.raises(ContractLoadError):
        load_contracts(tmp_path / "missing")
