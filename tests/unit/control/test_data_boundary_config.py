"""Bundle configuration of data boundaries: ``redaction.yaml``, ``guardrails.yaml``, an
agent's ``guardrails:`` and tools' ``data_classes``/``egress`` — loaded into typed objects,
or refused with every problem located by file, JSON pointer and (through the CLI) line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pilothouse.cli.main import app
from pilothouse.control.bundle import BundleError, Problem, load_bundle
from pilothouse.control.data_classes import clearance
from pilothouse.control.guardrails import BlocklistRule, ClassifierRule, JsonSchemaRule
from pilothouse.observability.redaction import DataClass, RedactionMode

EXAMPLE = Path(__file__).parents[3] / "examples" / "support-desk"


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    copy = tmp_path / "bundle"
    shutil.copytree(EXAMPLE, copy)
    return copy


def problems(root: Path) -> list[Problem]:
    with pytest.raises(BundleError) as caught:
        load_bundle(root)
    return caught.value.problems


def test_a_bundle_without_the_files_gets_the_defaults(bundle: Path) -> None:
    loaded = load_bundle(bundle)
    assert loaded.redaction.mode(DataClass.EMAIL) is RedactionMode.MASK
    assert loaded.guardrails.empty and not loaded.guardrails.models


def test_release_configuration_is_loaded(bundle: Path) -> None:
    (bundle / "redaction.yaml").write_text("modes: {phone: off}\nallow: [help@example.com]\n")
    (bundle / "guardrails.yaml").write_text(
        "input:\n"
        "  - {type: blocklist, terms: [secret plan]}\n"
        "output:\n"
        "  - {type: json_schema, schema: {type: object}}\n"
        "  - {name: mod, type: classifier, target: 'pkg.mod:check'}\n"
        "models: true\n"
    )
    loaded = load_bundle(bundle)
    assert loaded.redaction.mode(DataClass.PHONE) is RedactionMode.OFF
    assert loaded.redaction.allow == frozenset({"help@example.com"})
    (first,) = loaded.guardrails.input
    schema, classifier = loaded.guardrails.output
    assert isinstance(first, BlocklistRule) and first.terms == ["secret plan"]
    assert isinstance(schema, JsonSchemaRule) and schema.json_schema == {"type": "object"}
    assert isinstance(classifier, ClassifierRule) and classifier.name == "mod"
    assert loaded.guardrails.models


def test_an_empty_file_means_defaults(bundle: Path) -> None:
    (bundle / "redaction.yaml").write_text("# nothing yet\n")
    (bundle / "guardrails.yaml").write_text("")
    loaded = load_bundle(bundle)
    assert loaded.guardrails.empty


def test_secrets_cannot_be_unredacted(bundle: Path) -> None:
    (bundle / "redaction.yaml").write_text("modes:\n  email: hash\n  secret: off\n")
    found = problems(bundle)
    assert {(p.file, p.pointer) for p in found} == {("redaction.yaml", "/modes")}
    assert "'secret' class cannot be 'off'" in found[0].message


@pytest.mark.parametrize(
    ("rule", "pointer", "message"),
    [
        ("{type: regex, pattern: '(unclosed'}", "/output/0/regex/pattern", "does not compile"),
        (
            "{type: json_schema, schema: {type: nothing}}",
            "/output/0/json_schema/schema",
            "not a valid JSON Schema",
        ),
        (
            "{type: classifier, target: 'not a path'}",
            "/output/0/classifier/target",
            "should match pattern",
        ),
        ("{type: length}", "/output/0/length", "set max_chars or min_chars"),
        ("{type: blocklist, terms: ['  ']}", "/output/0/blocklist/terms", "blank"),
        ("{type: telepathy}", "/output/0", "does not match any of the expected tags"),
    ],
)
def test_bad_rules_are_located(bundle: Path, rule: str, pointer: str, message: str) -> None:
    (bundle / "guardrails.yaml").write_text(f"output:\n  - {rule}\n")
    (found,) = problems(bundle)
    assert (found.file, found.pointer) == ("guardrails.yaml", pointer)
    assert message in found.message


def test_agent_guardrails_are_validated_in_the_agent_file(bundle: Path) -> None:
    agent = bundle / "agents" / "support-desk.yaml"
    agent.write_text(
        agent.read_text() + "guardrails:\n  input:\n    - {type: regex, pattern: '['}\n"
    )
    (found,) = problems(bundle)
    assert found.file == "agents/support-desk.yaml"
    assert found.pointer == "/guardrails/input/0/regex/pattern"


def test_tool_data_classes_use_the_known_vocabulary(bundle: Path) -> None:
    tool = bundle / "tools" / "search_kb.json"
    declared = '"name": "search_kb", "data_classes": ["medical"],'
    tool.write_text(tool.read_text().replace('"name": "search_kb",', declared))
    (found,) = [p for p in problems(bundle) if p.file == "tools/search_kb.json"]
    assert (found.file, found.pointer) == ("tools/search_kb.json", "/data_classes")
    assert "unknown data classes medical" in found.message


def test_groups_expand_into_their_classes() -> None:
    assert clearance(["pii"]) == {"pii", "email", "phone", "iban"}
    assert clearance(["card", "credentials"]) == {"card", "credentials", "api_key", "secret"}


def test_the_cli_prints_file_and_line(bundle: Path) -> None:
    (bundle / "guardrails.yaml").write_text(
        "input:\n  - {type: blocklist, terms: [a]}\noutput:\n  - {type: regex, pattern: '*'}\n"
    )
    result = CliRunner().invoke(app, ["bundle", "validate", str(bundle)])
    assert result.exit_code == 1
    (line,) = [text for text in result.output.splitlines() if "guardrails.yaml" in text]
    assert line.startswith("guardrails.yaml:4: /output/0/regex/pattern")
