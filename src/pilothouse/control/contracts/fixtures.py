"""Contract-test fixtures: valid and invalid examples per tool and side, as plain JSON.

``OUT/fixtures/<tool>.json`` lets tests in any language check that their bindings agree
with the contract: every ``valid`` value must deserialize and every ``invalid`` one must
be rejected. The file is plain JSON so that Python and C# (or a JSON Schema validator)
load it alike::

    {"schema_version": 1, "tool": "search_kb",
     "input": {"schema": {...},
               "valid": [{"name": "minimal", "value": {...}}, {"name": "full", ...}],
               "invalid": [{"name": "required:/query", "violates": "required",
                            "pointer": "/query", "note": "...", "value": {...}}]},
     "output": {...} | null}

Valid values come from :func:`pilothouse.control.schema_values.example` (the
generator the offline model uses), once with only required properties and once with all
of them; strings with a ``pattern`` get a matching value from ``rstr``. Invalid values
each start from the full valid value and break one constraint at one place (missing
required property, wrong type, value outside the enum, bound or length crossed, pattern
missed, unexpected property). Every example is checked against the schema before it is
written, with ``jsonschema`` (which must name exactly the intended keyword as violated)
and ``jsonschema-rs`` (the gateway's validator), so a fixture never lies about the
contract.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import jsonschema_rs

from pilothouse.control.contracts.patterns import matching_string
from pilothouse.control.contracts.schema_nav import transform
from pilothouse.control.contracts.violations import Violation, violations

# The one example generator, shared with the offline model. It is a pure function of the
# schema that imports nothing else from runtime/, but it does cross DESIGN §2's
# "control never imports runtime" line until it moves to a module both planes share.
from pilothouse.control.schema_values import example
from pilothouse.control.tool_contract import ToolContract

FIXTURE_SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class SideFixtures:
    """The examples for one side (input or output) of one tool."""

    schema: dict[str, Any]
    valid: list[tuple[str, Any]]
    invalid: list[Violation]

    def to_dict(self) -> dict[str, Any]:
        """The side as written to the fixture file."""
        return {
            "schema": self.schema,
            "valid": [{"name": name, "value": value} for name, value in self.valid],
            "invalid": [violation.to_dict() for violation in self.invalid],
        }


def side_fixtures(schema: dict[str, Any]) -> SideFixtures:
    """Valid and invalid examples for one JSON Schema."""
    checker = _Checker(schema)
    prepared = transform(schema, _pattern_default)
    valid: list[tuple[str, Any]] = []
    for name, edit in (("minimal", _only_required), ("full", _every_property)):
        value = example(transform(prepared, edit))
        if checker.accepts(value) and all(value != seen for _, seen in valid):
            valid.append((name, value))
    base = valid[-1][1] if valid else None
    invalid = [] if base is None else [v for v in violations(schema, base) if checker.rejects(v)]
    return SideFixtures(schema=schema, valid=valid, invalid=invalid)


def contract_fixtures(contract: ToolContract) -> dict[str, Any]:
    """The fixture document of one tool (see the module docstring for its shape)."""
    output = contract.output_schema
    return {
        "schema_version": FIXTURE_SCHEMA_VERSION,
        "tool": contract.name,
        "input": side_fixtures(contract.input_schema).to_dict(),
        "output": None if output is None else side_fixtures(output).to_dict(),
    }


def write_fixtures(contracts: Mapping[str, ToolContract], directory: Path) -> list[Path]:
    """Write ``<tool>.json`` for every contract into ``directory``; return the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in sorted(contracts):
        path = directory / f"{name}.json"
        document = contract_fixtures(contracts[name])
        path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        written.append(path)
    return written


class _Checker:
    """Both validators for one schema: the reference (``jsonschema``) and the gateway's."""

    def __init__(self, schema: dict[str, Any]) -> None:
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        self._reference = cls(schema)
        self._gateway = jsonschema_rs.validator_for(schema)

    def accepts(self, value: Any) -> bool:
        return self._reference.is_valid(value) and self._gateway.is_valid(value)

    def rejects(self, violation: Violation) -> bool:
        """True when the value fails exactly the keyword it claims to, in both validators."""
        failed = {error.validator for error in self._reference.iter_errors(violation.value)}
        return failed == {violation.violates} and not self._gateway.is_valid(violation.value)


def _pattern_default(node: dict[str, Any]) -> dict[str, Any]:
    """Give patterned strings a matching ``default``, which ``example`` then returns."""
    pattern = node.get("pattern")
    if not isinstance(pattern, str) or any(k in node for k in ("default", "const", "enum")):
        return node
    low, high = int(node.get("minLength", 0)), node.get("maxLength")
    text = matching_string(pattern, low, None if high is None else int(high))
    return node if text is None else {**node, "default": text}


def _only_required(node: dict[str, Any]) -> dict[str, Any]:
    """Objects keep only their required properties (``example`` skips the rest)."""
    if not isinstance(node.get("properties"), dict):
        return node
    edited = {**node, "required": list(node.get("required") or [])}
    if edited.get("additionalProperties") is False:
        del edited["additionalProperties"]  # example() fills every property of closed objects
    return edited


def _every_property(node: dict[str, Any]) -> dict[str, Any]:
    """Objects require every property they declare, so ``example`` fills them all."""
    properties = node.get("properties")
    if not isinstance(properties, dict):
        return node
    return {**node, "required": list(properties)}
