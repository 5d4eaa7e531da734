"""What a contract diff reports: classified changes and the report over a set of tools.

A :class:`Change` is one difference between two versions of a tool contract, located by
tool, side and JSON pointer, with a ``kind`` (a stable machine name such as
``required_property_added``) and a class:

- ``breaking``: some caller of the tool that worked against the old contract can fail
  against the new one;
- ``compatible``: every such caller keeps working;
- ``info``: nothing a caller can observe changes (descriptions, defaults, the adapter).

Whether a schema change breaks callers depends on the side. The input schema bounds what
callers *send*: narrowing it breaks them. The output schema bounds what callers *read*:
widening it breaks them. :class:`Effect` records what a change does to the set of
accepted values, and :func:`class_of` turns that into a class for a side, so the rules
live in one table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any, Literal

Side = Literal["input", "output", "tool"]

REPORT_SCHEMA_VERSION = 1


class ChangeClass(StrEnum):
    """How a change affects the tool's callers."""

    BREAKING = "breaking"
    COMPATIBLE = "compatible"
    INFO = "info"


class Effect(Enum):
    """What a schema change does to the set of values the schema accepts."""

    NARROWED = "narrowed"  # accepts fewer values (or the same values, more constrained)
    WIDENED = "widened"  # accepts more values
    CHANGED = "changed"  # neither: some values gained, some lost, or not provable
    ADDED = "added"  # something new that old callers simply do not use
    ANNOTATION = "annotation"  # nothing about accepted values changed


_CLASSES: dict[tuple[Effect, str], ChangeClass] = {
    (Effect.NARROWED, "input"): ChangeClass.BREAKING,
    (Effect.NARROWED, "output"): ChangeClass.COMPATIBLE,
    (Effect.WIDENED, "input"): ChangeClass.COMPATIBLE,
    (Effect.WIDENED, "output"): ChangeClass.BREAKING,
}


def class_of(effect: Effect, side: Side) -> ChangeClass:
    """The class of a change with ``effect`` on ``side`` (input: sent, output: read)."""
    if effect is Effect.CHANGED:
        return ChangeClass.BREAKING
    if effect is Effect.ADDED:
        return ChangeClass.COMPATIBLE
    if effect is Effect.ANNOTATION or side == "tool":
        return ChangeClass.INFO
    return _CLASSES[(effect, side)]


@dataclass(frozen=True, slots=True)
class Change:
    """One classified difference between two versions of a tool contract.

    Attributes:
        tool: The tool's name.
        side: ``input`` or ``output`` for schema changes, ``tool`` for the contract itself
            (tool added or removed, adapter, description, settings).
        pointer: A JSON pointer into the side's schema (or into the contract for ``tool``
            changes), e.g. ``/properties/address/properties/zip``. Changes reached through
            a ``$ref`` are reported where the reference is used.
        kind: A stable machine name for the change, e.g. ``enum_values_removed``.
        change_class: ``breaking``, ``compatible`` or ``info`` (``class`` in JSON).
        message: What changed and why it has this class, for people.
    """

    tool: str
    side: Side
    pointer: str
    kind: str
    change_class: ChangeClass
    message: str

    @property
    def breaking(self) -> bool:
        """True when callers of the old contract may fail against the new one."""
        return self.change_class is ChangeClass.BREAKING

    def to_dict(self) -> dict[str, str]:
        """The change as a JSON object (the report's wire form)."""
        return {
            "tool": self.tool,
            "side": self.side,
            "pointer": self.pointer,
            "kind": self.kind,
            "class": self.change_class.value,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class ContractReport:
    """Every change between two sets of tool contracts.

    Attributes:
        changes: The changes, grouped by tool (tools in name order).
        old_tools: Names of the tools in the old set.
        new_tools: Names of the tools in the new set.
    """

    changes: tuple[Change, ...] = ()
    old_tools: tuple[str, ...] = ()
    new_tools: tuple[str, ...] = ()

    @property
    def breaking(self) -> bool:
        """True when at least one change breaks the tools' callers."""
        return any(change.breaking for change in self.changes)

    @property
    def verdict(self) -> str:
        """``breaking``, ``compatible`` (changes, none breaking) or ``unchanged``."""
        if self.breaking:
            return "breaking"
        return "compatible" if self.changes else "unchanged"

    def count(self, change_class: ChangeClass) -> int:
        """How many changes have ``change_class``."""
        return sum(1 for change in self.changes if change.change_class is change_class)

    def breaking_changes(self) -> list[Change]:
        """The breaking changes only, in report order."""
        return [change for change in self.changes if change.breaking]

    def to_dict(self, *, allowed_breaking: str | None = None) -> dict[str, Any]:
        """The report as JSON data; ``allowed_breaking`` records an override's reason."""
        data: dict[str, Any] = {
            "schema_version": REPORT_SCHEMA_VERSION,
            "verdict": self.verdict,
            "breaking": self.breaking,
            "summary": {cls.value: self.count(cls) for cls in ChangeClass},
            "tools": {"old": list(self.old_tools), "new": list(self.new_tools)},
            "changes": [change.to_dict() for change in self.changes],
        }
        if allowed_breaking is not None:
            data["allowed_breaking"] = {"reason": allowed_breaking}
        return data

    def to_json(self, *, allowed_breaking: str | None = None, indent: int | None = 2) -> str:
        """The report as JSON text (see :meth:`to_dict`)."""
        return json.dumps(self.to_dict(allowed_breaking=allowed_breaking), indent=indent)

    def to_text(self) -> str:
        """A human summary: one line per change, then the totals and the verdict."""
        lines = []
        for change in self.changes:
            anchor = f"#{change.pointer}" if change.pointer else ""
            where = f"{change.tool} {change.side}{anchor}"
            label = change.change_class.value.upper()
            lines.append(f"{label:<10} {where}: {change.message} [{change.kind}]")
        totals = ", ".join(f"{self.count(cls)} {cls.value}" for cls in ChangeClass)
        lines.append(f"{len(self.changes)} change(s): {totals}. Verdict: {self.verdict}.")
        return "\n".join(lines)
