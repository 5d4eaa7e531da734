"""OpenAPI import: one contract per operation, $refs inlined, problems reported; and the
bundle loader's expansion of ``tools/*.openapi.yaml``."""

from __future__ import annotations

from pathlib import Path

import pytest

from pilothouse.control.bundle import BundleError, load_bundle
from pilothouse.control.openapi_import import (
    OpenApiImportError,
    contracts_from_openapi,
    default_base_url,
    find_operation,
)
from pilothouse.control.tool_contract import OpenApiBinding

from .openapi_fixture import DESK_OPENAPI, desk_document


def test_one_contract_per_operation_with_an_id() -> None:
    contracts = contracts_from_openapi(desk_document(), base_url="http://desk.internal")
    assert [c.name for c in contracts] == ["getTicket", "addNote"]
    get_ticket, add_note = contracts
    assert get_ticket.description == "Look a ticket up"
    assert not get_ticket.side_effect and add_note.side_effect
    binding = add_note.adapter
    assert isinstance(binding, OpenApiBinding)
    assert (binding.operation_id, binding.base_url) == ("addNote", "http://desk.internal")


def test_input_schema_merges_path_and_query_parameters_with_the_body() -> None:
    get_ticket, add_note = contracts_from_openapi(desk_document())
    assert get_ticket.input_schema == {
        "type": "object",
        "properties": {
            "ticket_id": {
                "type": "string",
                "pattern": "^T-[0-9]+$",
                "description": "The ticket's id.",
            },
            "verbose": {"type": "boolean"},
        },
        "required": ["ticket_id"],
        "additionalProperties": False,
    }
    assert add_note.input_schema["required"] == ["ticket_id", "text"]
    author = add_note.input_schema["properties"]["author"]
    assert author == {"type": "object", "properties": {"name": {"type": ["string", "null"]}}}


def test_output_schema_comes_from_the_200_or_201_json_response() -> None:
    get_ticket, add_note = contracts_from_openapi(desk_document())
    assert get_ticket.output_schema == {
        "type": "object",
        "properties": {"status": {"type": "string"}},
    }
    assert add_note.output_schema == {
        "type": "object",
        "required": ["note_id"],
        "properties": {"note_id": {"type": "string"}},
    }


def test_operations_can_be_chosen_and_unknown_ones_are_errors() -> None:
    (only,) = contracts_from_openapi(desk_document(), operations=["addNote"])
    assert only.name == "addNote"
    with pytest.raises(OpenApiImportError) as caught:
        contracts_from_openapi(desk_document(), operations=["addNote", "closeTicket"])
    assert caught.value.pointer == "/operations/1"


def test_recursive_refs_are_reported() -> None:
    document = desk_document()
    document["components"]["schemas"]["Person"]["properties"]["manager"] = {
        "$ref": "#/components/schemas/Person"
    }
    with pytest.raises(OpenApiImportError, match="recursive"):
        contracts_from_openapi(document)


def test_a_name_both_parameter_and_body_property_is_reported() -> None:
    document = desk_document()
    document["components"]["schemas"]["NewNote"]["properties"]["ticket_id"] = {"type": "string"}
    with pytest.raises(OpenApiImportError, match="both a parameter and a body property"):
        contracts_from_openapi(document)


def test_the_default_base_url_fills_server_variables() -> None:
    assert default_base_url(desk_document()) == "http://127.0.0.1:9/echo"
    assert find_operation(desk_document(), "addNote").body_properties == ("text", "author")


def _bundle(tmp_path: Path, source: str) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "apis").mkdir()
    (tmp_path / "apis" / "desk.yaml").write_text(DESK_OPENAPI)
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "desk.openapi.yaml").write_text(source)
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "helper.yaml").write_text(
        "name: helper\nmodel: scripted\ntools: [getTicket, addNote]\n"
    )
    return tmp_path


def test_a_bundle_openapi_source_expands_into_contracts(tmp_path: Path) -> None:
    root = _bundle(
        tmp_path,
        "openapi: apis/desk.yaml\nbase_url: http://desk.internal\n"
        "operations: [getTicket, addNote]\nheaders: {Authorization: 'env:DESK_TOKEN'}\n",
    )
    bundle = load_bundle(root)
    assert set(bundle.tools) == {"getTicket", "addNote"}
    binding = bundle.tools["addNote"].adapter
    assert isinstance(binding, OpenApiBinding)
    assert binding.document == "apis/desk.yaml"
    assert binding.headers == {"Authorization": "env:DESK_TOKEN"}


def test_bundle_problems_in_openapi_sources_are_reported(tmp_path: Path) -> None:
    root = _bundle(tmp_path, "openapi: apis/desk.yaml\noperations: [getTicket, closeTicket]\n")
    with pytest.raises(BundleError) as caught:
        load_bundle(root)
    problems = [(p.file, p.pointer) for p in caught.value.problems]
    assert ("tools/desk.openapi.yaml", "/operations/1") in problems
    assert ("agents/helper.yaml", "/tools/1") in problems  # addNote was not imported


def test_a_document_outside_the_bundle_is_refused(tmp_path: Path) -> None:
    root = _bundle(tmp_path / "bundle", "openapi: ../outside.yaml\n")
    (tmp_path / "outside.yaml").write_text(DESK_OPENAPI)
    with pytest.raises(BundleError, match="outside the bundle"):
        load_bundle(root)
