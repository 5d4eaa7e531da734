"""Classifying changes between tool contracts: the API behind ``contracts diff`` and promote.

Two entry points, both pure functions over data already loaded:

- :func:`classify` compares two versions of *one* tool (two :class:`ToolContract`) or of
  one schema (two JSON Schema dicts, for a given side) and returns its changes;
- :func:`diff_contracts` compares two *sets* of tools, keyed by name (a bundle's
  ``tools``, or the tools of the release an environment runs), and returns a
  :class:`ContractReport` whose ``breaking`` property is what a gate checks.

What is breaking, per side (see :mod:`.schema_diff` for the walk):

==========================  =============================  =============================
change                      input (callers send it)        output (callers read it)
==========================  =============================  =============================
type/enum/bound narrowed    breaking                       compatible
type/enum/bound widened     compatible                     breaking
type changed, enum swapped  breaking                       breaking
property added              compatible; breaking when      compatible
                            required
property removed            breaking when extra            breaking
                            properties are forbidden,
                            else compatible
property made required      breaking                       compatible
property made optional      compatible                     breaking
additionalProperties false  breaking                       compatible
output schema removed       --                             breaking
tool removed / added        breaking / compatible (side ``tool``)
description, default,       info
adapter, settings
unanalysed keyword, oneOf   breaking (cannot be proven compatible)
==========================  =============================  =============================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pilothouse.control.contracts.report import (
    Change,
    ChangeClass,
    ContractReport,
    Effect,
    Side,
    class_of,
)
from pilothouse.control.contracts.schema_diff import compare_schemas
from pilothouse.control.tool_contract import ToolContract

#: Contract fields compared as settings: a difference is reported as ``info``.
_SETTINGS = (
    "timeout_s",
    "max_attempts",
    "max_output_bytes",
    "side_effect",
    "data_classes",
    "egress",
)


def classify(
    old: ToolContract | Mapping[str, Any],
    new: ToolContract | Mapping[str, Any],
    *,
    side: Side = "input",
    tool: str | None = None,
) -> list[Change]:
    """Every classified change between two versions of one tool contract or schema.

    Args:
        old: The contract (or schema) callers were built against: for promote, the one
            the target environment runs.
        new: The contract (or schema) about to replace it.
        side: For two schemas only: ``input`` when they bound what callers send,
            ``output`` when they bound what callers read. Ignored for contracts, whose
            input and output schemas are each compared on their own side.
        tool: The name reported on each change; defaults to the new contract's name
            (``""`` for bare schemas).

    Returns:
        The changes, in a stable order (input, output, then the contract's own fields).

    Raises:
        TypeError: When one argument is a contract and the other a schema.
    """
    if isinstance(old, ToolContract) and isinstance(new, ToolContract):
        return _contract_changes(old, new, tool if tool is not None else new.name)
    if isinstance(old, ToolContract) or isinstance(new, ToolContract):
        raise TypeError("classify() compares two contracts or two schemas, not one of each")
    return _schema_changes(dict(old), dict(new), side, tool or "")


def diff_contracts(
    old: Mapping[str, ToolContract], new: Mapping[str, ToolContract]
) -> ContractReport:
    """The report over two sets of tools keyed by name (e.g. ``Bundle.tools``).

    A tool only in ``old`` is ``tool_removed`` (breaking: agents and clients that call it
    fail); a tool only in ``new`` is ``tool_added`` (compatible); a tool in both is
    compared with :func:`classify`.
    """
    changes: list[Change] = []
    for name in sorted(set(old) | set(new)):
        if name not in new:
            message = "tool removed: callers of it fail"
            changes.append(_tool_change(name, "", "tool_removed", Effect.CHANGED, message))
        elif name not in old:
            message = "tool added"
            changes.append(_tool_change(name, "", "tool_added", Effect.ADDED, message))
        else:
            changes.extend(classify(old[name], new[name], tool=name))
    return ContractReport(
        changes=tuple(changes), old_tools=tuple(sorted(old)), new_tools=tuple(sorted(new))
    )


def _schema_changes(old: Any, new: Any, side: Side, tool: str) -> list[Change]:
    return [
        Change(tool, side, c.pointer, c.kind, class_of(c.effect, side), c.message)
        for c in compare_schemas(old, new, side=side)
    ]


def _contract_changes(old: ToolContract, new: ToolContract, tool: str) -> list[Change]:
    changes = _schema_changes(old.input_schema, new.input_schema, "input", tool)
    changes.extend(_output_changes(old.output_schema, new.output_schema, tool))
    if old.description != new.description:
        message = "description changed (the model reads it: review the wording)"
        changes.append(_tool_change(tool, "/description", "description_changed", None, message))
    if old.adapter != new.adapter:
        message = f"adapter changed: {_adapter_text(old)} -> {_adapter_text(new)}"
        changes.append(_tool_change(tool, "/adapter", "adapter_changed", None, message))
    for name in _SETTINGS:
        before, after = getattr(old, name), getattr(new, name)
        if before != after:
            message = f"{name} {before!r} -> {after!r}"
            changes.append(_tool_change(tool, f"/{name}", "setting_changed", None, message))
    return changes


def _output_changes(
    old: dict[str, Any] | None, new: dict[str, Any] | None, tool: str
) -> list[Change]:
    if old is None and new is None:
        return []
    if old is None:
        message = "output schema added: outputs are now validated"
        return [Change(tool, "output", "", "output_schema_added", ChangeClass.COMPATIBLE, message)]
    if new is None:
        message = "output schema removed: callers lose every guarantee about outputs"
        return [Change(tool, "output", "", "output_schema_removed", ChangeClass.BREAKING, message)]
    return _schema_changes(old, new, "output", tool)


def _tool_change(tool: str, pointer: str, kind: str, effect: Effect | None, message: str) -> Change:
    change_class = ChangeClass.INFO if effect is None else class_of(effect, "tool")
    return Change(tool, "tool", pointer, kind, change_class, message)


def _adapter_text(contract: ToolContract) -> str:
    adapter = contract.adapter
    target = getattr(adapter, "url", None) or getattr(adapter, "target", None)
    target = target or getattr(adapter, "operation_id", None) or getattr(adapter, "tool", None)
    return f"{adapter.type} {target}" if target else adapter.type
