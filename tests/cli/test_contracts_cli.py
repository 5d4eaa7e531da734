"""``pilothouse contracts diff`` and ``codegen`` on small bundles written in ``tmp_path``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pilothouse.cli.main import app

EXAMPLE = Path(__file__).parents[2] / "examples" / "support-desk"

runner = CliRunner()


def write_bundle(root: Path, input_schema: dict[str, Any], **extra_tools: Any) -> Path:
    """A bundle with one tool, ``lookup``, whose input schema is ``input_schema``."""
    (root / "tools").mkdir(parents=True)
    tools = {"lookup": input_schema, **extra_tools}
    for name, schema in tools.items():
        contract = {
            "name": name,
            "input_schema": schema,
            "output_schema": {"type": "object", "properties": {"title": {"type": "string"}}},
            "adapter": {"type": "http", "url": "http://127.0.0.1:9/lookup"},
        }
        (root / "tools" / f"{name}.json").write_text(json.dumps(contract))
    return root


def schema(*required: str, **properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required)}


@pytest.fixture
def bundles(tmp_path: Path) -> dict[str, Path]:
    old = write_bundle(tmp_path / "old", schema("id", id={"type": "string"}))
    compatible = write_bundle(
        tmp_path / "compatible",
        schema("id", id={"type": "string"}, limit={"type": "integer"}),
    )
    breaking = write_bundle(
        tmp_path / "breaking",
        schema("id", "scope", id={"type": "string"}, scope={"type": "string"}),
    )
    return {"old": old, "compatible": compatible, "breaking": breaking}


def invoke(*args: str | Path) -> Any:
    return runner.invoke(app, ["contracts", *map(str, args)])


def test_compatible_change_exits_0(bundles: dict[str, Path]) -> None:
    result = invoke("diff", bundles["old"], bundles["compatible"])
    assert result.exit_code == 0, result.output
    assert "COMPATIBLE lookup input#/properties/limit" in result.output
    assert "Verdict: compatible." in result.output


def test_breaking_change_exits_1(bundles: dict[str, Path]) -> None:
    result = invoke("diff", bundles["old"], bundles["breaking"])
    assert result.exit_code == 1
    assert "BREAKING   lookup input#/properties/scope" in result.output
    assert "[required_property_added]" in result.output


def test_json_report(bundles: dict[str, Path]) -> None:
    result = invoke("diff", bundles["old"], bundles["breaking"], "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["verdict"] == "breaking" and report["breaking"] is True
    assert report["changes"] == [
        {
            "tool": "lookup",
            "side": "input",
            "pointer": "/properties/scope",
            "kind": "required_property_added",
            "class": "breaking",
            "message": "'scope' added as required: callers that omit it are rejected",
        }
    ]
    assert "allowed_breaking" not in report


def test_allow_breaking_exits_0_and_still_reports(bundles: dict[str, Path]) -> None:
    reason = "every caller moved to v2"
    result = invoke("diff", bundles["old"], bundles["breaking"], "--allow-breaking", reason)
    assert result.exit_code == 0
    assert "BREAKING" in result.output and f"Breaking changes allowed: {reason}" in result.output
    as_json = invoke(
        "diff", bundles["old"], bundles["breaking"], "--allow-breaking", reason, "--format", "json"
    )
    assert as_json.exit_code == 0
    assert json.loads(as_json.stdout)["allowed_breaking"] == {"reason": reason}


def test_single_contract_files(bundles: dict[str, Path]) -> None:
    old = bundles["old"] / "tools" / "lookup.json"
    result = invoke("diff", old, bundles["breaking"] / "tools" / "lookup.json")
    assert result.exit_code == 1
    assert invoke("diff", old, old).exit_code == 0


def test_unreadable_input_exits_2(bundles: dict[str, Path], tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    result = invoke("diff", bundles["old"], broken)
    assert result.exit_code == 2
    assert "cannot be parsed" in result.output
    assert invoke("diff", bundles["old"], tmp_path / "missing").exit_code == 2
    assert invoke("diff", bundles["old"], bundles["old"], "--allow-breaking", " ").exit_code == 2
    assert invoke("diff", bundles["old"]).exit_code == 2


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("python", {"__init__.py", "search_kb.py", "get_ticket_status.py", "add_incident_note.py"}),
        ("csharp", {"ContractJson.cs", "SearchKb.cs", "GetTicketStatus.cs", "AddIncidentNote.cs"}),
    ],
)
def test_codegen_writes_bindings_and_fixtures(
    lang: str, expected: set[str], tmp_path: Path
) -> None:
    out = tmp_path / "generated"
    result = invoke("codegen", "--lang", lang, "--bundle", EXAMPLE, out)
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir() if p.is_file()} == expected
    fixtures = {p.name for p in (out / "fixtures").iterdir()}
    assert fixtures == {"search_kb.json", "get_ticket_status.json", "add_incident_note.json"}
    assert "Wrote 7 files for 3 tool(s)" in result.output


def test_codegen_refuses_a_bad_namespace_and_bundle(tmp_path: Path) -> None:
    out = tmp_path / "cs"
    bad = invoke("codegen", "--lang", "csharp", "--bundle", EXAMPLE, "--namespace", "a b", out)
    assert bad.exit_code == 2
    missing = invoke("codegen", "--lang", "python", "--bundle", tmp_path / "none", out)
    assert missing.exit_code == 2
    assert invoke("codegen", "--lang", "cobol", out).exit_code == 2
