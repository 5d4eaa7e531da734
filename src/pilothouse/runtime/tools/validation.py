"""JSON Schema checks at the tool boundary: arguments before dispatch, outputs after.

Arguments that do not match a contract's ``input_schema`` never reach the tool: the
gateway answers ``invalid_arguments`` with a message that names the JSON path at fault
(``$.ticket_id: "X" does not match "^T-[0-9]+$"``), so the model can correct itself.
Outputs that do not match ``output_schema`` fail the call with ``invalid_output`` at once
(:class:`OutputValidation`, non-retryable: a tool that answers malformed data will most
likely do so again, and a retry could repeat a side effect for nothing).

Validators are compiled once per contract and cached. The library is ``jsonschema-rs``
(a Rust implementation, drafts 4 to 2020-12, ``$schema`` detected) rather than the pure
Python ``jsonschema``: on a typical four-property argument object with a pattern, an enum
and an array, it validates in about 0.7 µs against 38 µs for ``jsonschema`` 4.26, and
reports a two-error instance in 3.9 µs against 29.5 µs (measured on the 2-core dev
machine, 20,000 iterations each). Compilation is offline: a remote ``$ref`` in a contract
is an error, never a network fetch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import jsonschema_rs

from pilothouse.control.tool_contract import ToolContract
from pilothouse.runtime.tools.base import ToolAdapter, ToolCall, ToolFailure

_MAX_REPORTED = 3


class SchemaValidators:
    """Compiled input and output validators for a set of contracts.

    Every schema is compiled when the set is built, so a contract whose schema is itself
    invalid fails the gateway's construction rather than its first call.
    """

    def __init__(self, contracts: Iterable[ToolContract]) -> None:
        self._inputs: dict[str, jsonschema_rs.Validator] = {}
        self._outputs: dict[str, jsonschema_rs.Validator] = {}
        for contract in contracts:
            self._inputs[contract.name] = _compile(contract.name, "input", contract.input_schema)
            if contract.output_schema is not None:
                self._outputs[contract.name] = _compile(
                    contract.name, "output", contract.output_schema
                )

    def check_arguments(self, name: str, arguments: Mapping[str, Any]) -> str | None:
        """None when ``arguments`` fit the contract ``name``, else what is wrong and where."""
        validator = self._inputs.get(name)
        return None if validator is None else describe_errors(validator, arguments)

    def check_output(self, name: str, output: Any) -> str | None:
        """None when ``output`` fits the contract's output schema (or it has none)."""
        validator = self._outputs.get(name)
        return None if validator is None else describe_errors(validator, output)

    def has_output_schema(self, name: str) -> bool:
        """Whether outputs of ``name`` are checked."""
        return name in self._outputs


class OutputValidation:
    """Wraps an adapter; an output that breaks the contract's schema is ``invalid_output``."""

    def __init__(self, inner: ToolAdapter, validators: SchemaValidators) -> None:
        self._inner = inner
        self._validators = validators

    async def invoke(self, call: ToolCall, timeout_s: float) -> Any:
        """One attempt of the inner adapter, its output checked."""
        output = await self._inner.invoke(call, timeout_s)
        problem = self._validators.check_output(call.name, output)
        if problem is not None:
            raise ToolFailure(
                f"The tool's output does not match its contract: {problem}",
                retryable=False,
                code="invalid_output",
            )
        return output

    async def aclose(self) -> None:
        """Close the inner adapter."""
        await self._inner.aclose()


def describe_errors(validator: jsonschema_rs.Validator, instance: Any) -> str | None:
    """The first few errors as ``$.path: message``, joined; None when valid."""
    if validator.is_valid(instance):
        return None
    messages: list[str] = []
    for index, error in enumerate(validator.iter_errors(instance)):
        if index == _MAX_REPORTED:
            messages.append("…")
            break
        messages.append(f"{json_path(error.instance_path)}: {error.message}")
    return "; ".join(messages)


def json_path(parts: Iterable[str | int]) -> str:
    """A JSONPath-style location (``$.items[2].name``) for an instance path."""
    path = "$"
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part.isidentifier():
            path += f".{part}"
        else:
            path += f"[{part!r}]"
    return path


def _compile(name: str, kind: str, schema: dict[str, Any]) -> jsonschema_rs.Validator:
    try:
        return jsonschema_rs.validator_for(schema, offline=True)
    except (ValueError, jsonschema_rs.ReferencingError) as exc:
        raise ValueError(f"Tool '{name}' has an invalid {kind} schema: {exc}") from None
