"""The semantic difference between two releases.

Not a text diff of files but what changed for the agents: instruction text (as a unified
diff), models and fallbacks, limits (field by field), the tools each agent may call,
tool contracts (each change with its compatibility class), prompts, prices, and policy
files.
"""

from __future__ import annotations

import difflib
from typing import Any

from pilothouse.control.bundle import Bundle
from pilothouse.control.releases import Release


def diff_releases(
    old: Release, new: Release, old_bundle: Bundle, new_bundle: Bundle
) -> dict[str, Any]:
    """What changed from ``old`` to ``new``, as JSON-ready data."""
    from pilothouse.control.contracts.diff import diff_contracts

    contracts = diff_contracts(old_bundle.tools, new_bundle.tools).to_dict()
    return {
        "from": old.id,
        "to": new.id,
        "agents": _agents(old.resolved["agents"], new.resolved["agents"]),
        "contracts": contracts,
        "prompts": _keyed(old.resolved["prompts"], new.resolved["prompts"]),
        "pricing": _keyed(
            old.resolved["pricing"].get("models", {}), new.resolved["pricing"].get("models", {})
        ),
        "policies": _files(old.files, new.files, "policies/"),
    }


def _agents(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {
        "added": sorted(set(new) - set(old)),
        "removed": sorted(set(old) - set(new)),
        "changed": {},
    }
    for name in sorted(set(old) & set(new)):
        before, after = old[name], new[name]
        change: dict[str, Any] = {}
        if before["instructions"] != after["instructions"]:
            change["instructions"] = "".join(
                difflib.unified_diff(
                    before["instructions"].splitlines(keepends=True),
                    after["instructions"].splitlines(keepends=True),
                    f"{name} (before)",
                    f"{name} (after)",
                )
            )
        for key in (
            "model",
            "fallbacks",
            "version",
            "variables",
            "tool_namespace",
            "temperature",
            "end_on_tool_error",
        ):
            if before.get(key) != after.get(key):
                change[key] = {"from": before.get(key), "to": after.get(key)}
        if before["tools"] != after["tools"]:
            change["tools"] = {
                "added": sorted(set(after["tools"]) - set(before["tools"])),
                "removed": sorted(set(before["tools"]) - set(after["tools"])),
            }
        limits = {
            key: {"from": before["limits"].get(key), "to": value}
            for key, value in after["limits"].items()
            if before["limits"].get(key) != value
        }
        if limits:
            change["limits"] = limits
        if change:
            changes["changed"][name] = change
    return changes


def _keyed(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    return {
        "added": sorted(set(new) - set(old)),
        "removed": sorted(set(old) - set(new)),
        "changed": sorted(k for k in set(old) & set(new) if old[k] != new[k]),
    }


def _files(old: dict[str, str], new: dict[str, str], prefix: str) -> dict[str, Any]:
    before = {k: v for k, v in old.items() if k.startswith(prefix)}
    after = {k: v for k, v in new.items() if k.startswith(prefix)}
    return _keyed(before, after)


def render(diff: dict[str, Any]) -> str:
    """A person's view of a release diff."""
    lines = [f"{diff['from']} -> {diff['to']}"]
    agents = diff["agents"]
    for name in agents["added"]:
        lines.append(f"+ agent {name}")
    for name in agents["removed"]:
        lines.append(f"- agent {name}")
    for name, change in agents["changed"].items():
        lines.append(f"~ agent {name}")
        for key, value in change.items():
            if key == "instructions":
                lines.append("    instructions:")
                lines.extend("      " + line for line in value.rstrip("\n").splitlines())
            else:
                lines.append(f"    {key}: {value}")
    for change in diff["contracts"].get("changes", []):
        lines.append(
            f"  [{change['class']}] {change['tool']} {change.get('side', '')} "
            f"{change.get('pointer', '')}: {change['message']}"
        )
    for section in ("prompts", "pricing", "policies"):
        part = diff[section]
        if any(part.values()):
            lines.append(f"  {section}: {part}")
    return "\n".join(lines)
