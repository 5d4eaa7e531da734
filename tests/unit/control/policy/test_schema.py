"""The schema, and the entities built for it, agree with each other and with the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pilothouse.control.bundle import load_bundle
from pilothouse.control.policy import (
    Action,
    Catalog,
    Context,
    EntityType,
    Principal,
    Resource,
    Scopes,
    ToolEntity,
    cedar,
)
from pilothouse.control.policy.entities import principal_entity
from pilothouse.control.policy.loader import baseline_text
from pilothouse.control.policy.schema import CEDAR_SCHEMA, RESOURCE_TYPES, parsed_schema
from pilothouse.control.tool_contract import ToolContract

EXAMPLE_BUNDLE = Path(__file__).parents[4] / "examples" / "support-desk"


def test_the_schema_declares_every_action_and_entity_type() -> None:
    declared_actions = set(re.findall(r"action ([\w, ]+) appliesTo", CEDAR_SCHEMA))
    names = {name.strip() for group in declared_actions for name in group.split(",")}
    assert names == {action.value for action in Action}
    entities = set(re.findall(r"entity (\w+)", CEDAR_SCHEMA))
    assert {f"Pilothouse::{name}" for name in entities} == {t.value for t in EntityType}
    assert set(RESOURCE_TYPES) == set(Action)


def test_the_baseline_validates_against_the_schema() -> None:
    assert cedar.validate(baseline_text(), parsed_schema()) == []


def test_a_catalog_and_principals_fit_the_schema(catalog: Catalog) -> None:
    principal = Principal(
        "key_1",
        "acme",
        frozenset({"invoke", "approve"}),
        Scopes(agents=frozenset({"faq"}), environments=frozenset({"prod"})),
    )
    entities = [*catalog.to_cedar(), principal_entity(principal)]
    built = cedar.build_entities(entities, parsed_schema())
    assert len(built) == len(entities) + len(Action)  # Cedar adds the schema's actions


def test_the_schema_check_rejects_a_misfit_entity(catalog: Catalog) -> None:
    entities = catalog.to_cedar()
    tool = next(e for e in entities if e["uid"]["type"] == EntityType.TOOL.value)
    tool["attrs"]["egress"] = "yes"
    with pytest.raises(cedar.CedarError):
        cedar.build_entities(entities, parsed_schema())


def test_tools_are_children_of_the_agents_that_list_them(catalog: Catalog) -> None:
    refund = next(
        e for e in catalog.to_cedar() if e["uid"] == {"type": "Pilothouse::Tool", "id": "refund"}
    )
    assert refund["parents"] == [
        {"type": "Pilothouse::Agent", "id": "support-desk"},
        {"type": "Pilothouse::Agent", "id": "billing"},
    ]
    assert refund["attrs"] == {
        "name": "refund",
        "side_effect": True,
        "egress": True,
        "data_classes": ["pci", "pii"],
    }


def test_a_catalog_from_the_example_bundle() -> None:
    bundle = load_bundle(EXAMPLE_BUNDLE)
    catalog = Catalog.from_bundle(bundle, tenant="acme", environments=["dev", "prod"])
    assert {a.name for a in catalog.agents} == set(bundle.agents)
    assert {t.name for t in catalog.tools} == set(bundle.tools)
    desk = bundle.agents["support-desk"]
    assert desk.model in catalog.models
    assert cedar.build_entities(catalog.to_cedar(), parsed_schema())


def test_egress_is_derived_from_the_binding() -> None:
    def contract(adapter: dict[str, str]) -> ToolContract:
        return ToolContract.model_validate(
            {"name": "t", "adapter": adapter, "side_effect": True, "data_classes": ["pii"]}
        )

    local = ToolEntity.from_contract(contract({"type": "python", "target": "m:f"}))
    remote = ToolEntity.from_contract(contract({"type": "http", "url": "https://x.example/"}))
    assert (local.egress, remote.egress) == (False, True)
    assert remote.side_effect and remote.data_classes == frozenset(
        {"pii", "email", "phone", "iban"}
    )


def test_the_context_record_has_every_attribute() -> None:
    record = Context(
        environment="prod",
        agent="faq",
        arguments={"q": "reset password", "limit": 5},
        data_classes=frozenset({"pii"}),
    ).to_cedar()
    assert record == {
        "environment": "prod",
        "agent": {"__entity": {"type": "Pilothouse::Agent", "id": "faq"}},
        "arguments": {"q": "reset password", "limit": 5},
        "approved": False,
        "cost_usd_micros": 0,
        "tool_call_count": 0,
        "data_classes": ["pii"],
    }
    assert "agent" not in Context().to_cedar()


def test_resources_render_as_cedar_writes_them() -> None:
    assert str(Resource.tool("refund")) == 'Pilothouse::Tool::"refund"'
    assert Resource.environment("prod").to_cedar() == {
        "type": "Pilothouse::Environment",
        "id": "prod",
    }
