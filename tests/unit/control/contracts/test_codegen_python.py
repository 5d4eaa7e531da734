"""Generated Pydantic models: they import, and they agree with the contract fixtures."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from pilothouse.control.contracts.codegen_python import combined_schema, python_module
from pilothouse.control.contracts.naming import module_name, pascal
from pilothouse.control.tool_contract import ToolContract

Generate = Callable[[dict[str, ToolContract], str], ModuleType]


def test_models_accept_valid_and_reject_invalid_fixtures(
    bundle_tools: dict[str, ToolContract], generate_python: Generate
) -> None:
    package = generate_python(bundle_tools, "generated_models")
    assert set(package.MODELS) == set(bundle_tools)
    checked = 0
    for tool, (input_model, output_model) in package.MODELS.items():
        document = json.loads((package.FIXTURES / f"{tool}.json").read_text())
        assert document["tool"] == tool
        for side, model in (("input", input_model), ("output", output_model)):
            if document[side] is None:
                assert model is None
                continue
            fixtures = document[side]
            assert fixtures["valid"], f"{tool} {side}: no valid example"
            for example in fixtures["valid"]:
                model.model_validate(example["value"])
                checked += 1
            for example in fixtures["invalid"]:
                with pytest.raises(ValidationError):
                    model.model_validate(example["value"])
                checked += 1
    assert checked > 40


def test_classes_are_named_after_tool_and_side(
    orders_tools: dict[str, ToolContract], generate_python: Generate
) -> None:
    package = generate_python(orders_tools, "named_models")
    inputs, outputs = package.MODELS["create_order"]
    assert (inputs.__name__, outputs.__name__) == ("CreateOrderInput", "CreateOrderOutput")
    assert package.MODELS["org-tree"][1].__name__ == "OrgTreeOutput"
    assert issubclass(package.PingInput, BaseModel)
    order = inputs.model_validate(
        {
            "customer": {"name": "Ada", "loyalty_tier": "gold"},
            "lines": [{"sku": "ABC-1234", "quantity": 2}],
            "shipping": {"street": "1 Rue", "postcode": "75001", "country": "FR"},
        }
    )
    assert order.lines[0].quantity == 2
    assert order.customer.loyalty_tier.value == "gold"


def output_address(schema: dict[str, Any]) -> Any:
    return schema["$defs"]["CreateOrderOutput"]["properties"]["shipping"]["$ref"]


def test_output_defs_are_hoisted_shared_or_renamed(orders_tools: dict[str, ToolContract]) -> None:
    contract = orders_tools["create_order"]
    schema = combined_schema(contract, "CreateOrderOutput")
    defs = schema["$defs"]
    # LineItem is the same on both sides: one model. Address differs: the output's is renamed.
    assert set(defs) == {"LineItem", "Address", "CreateOrderOutputAddress", "CreateOrderOutput"}
    assert output_address(schema) == "#/$defs/CreateOrderOutputAddress"
    assert defs["CreateOrderOutput"]["properties"]["lines"]["items"] == {"$ref": "#/$defs/LineItem"}
    assert "$defs" not in defs["CreateOrderOutput"]


def test_recursive_root_reference_is_rewritten() -> None:
    contract = ToolContract.model_validate(
        {
            "name": "tree",
            "input_schema": {"type": "object"},
            "output_schema": {
                "type": "object",
                "properties": {"children": {"type": "array", "items": {"$ref": "#"}}},
            },
            "adapter": {"type": "python", "target": "a:b"},
        }
    )
    schema = combined_schema(contract, "TreeOutput")
    assert schema["$defs"]["TreeOutput"]["properties"]["children"]["items"] == {
        "$ref": "#/$defs/TreeOutput"
    }
    source = python_module(contract)
    assert "class TreeOutput(BaseModel):" in source
    assert "children: list[TreeOutput] | None = None" in source


@pytest.mark.parametrize(
    ("tool", "cls", "module"),
    [
        ("search_kb", "SearchKb", "search_kb"),
        ("org-tree", "OrgTree", "org_tree"),
        ("3d", "T3d", "tool_3d"),
        ("class", "Class", "tool_class"),
    ],
)
def test_names(tool: str, cls: str, module: str) -> None:
    assert pascal(tool) == cls
    assert module_name(tool) == module
