"""A run as a timeline tree, folded from its journal (``pilothouse runs show``).

The tree is plain data (:class:`Node`), rendered as indented text or emitted as JSON::

    run resp_…  desk@1  release -  completed  812 ms  in 120 / out 40 tok  $0.001200
    ├── tools listed  get_ticket_status, search_kb
    ├── step 1  model gpt-4o  completed  420 ms  in 60 / out 20 tok  $0.000600
    │   ├── tool get_ticket_status  ok  35 ms  1 attempt
    │   │   └── attempt 1  ok  35 ms
    │   └── policy call_tool search_kb  deny
    ├── limit hit  max_steps  limit_hit
    └── finished  incomplete (max_steps)

Entries of journal version 1 (no latencies, no attempts) render with what they have.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from pilothouse.runtime.agent import events as ev
from pilothouse.storage.base import JournalEntry, StoredRun


@dataclass(slots=True)
class Node:
    """One line of the tree, with its figures (None when unknown) and its children."""

    kind: str
    label: str
    at: float | None = None
    outcome: str | None = None
    latency_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    children: list[Node] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return asdict(self)


def build(run: StoredRun, entries: list[JournalEntry]) -> Node:
    """The tree of a run from its header and journal."""
    root = Node("run", f"run {run.id}  {run.agent}@{run.agent_version}", at=run.created_at)
    root.outcome = run.status
    step: Node | None = None
    calls: dict[int, Node] = {}
    for entry in entries:
        p = entry.payload
        parent = step or root
        if entry.kind == ev.RUN_STARTED:
            root.label += f"  release {p.get('release_id') or '-'}"
        elif entry.kind == ev.TOOLS_LISTED:
            names = ", ".join(t.get("name", "?") for t in p["item"].get("tools", []))
            root.children.append(Node("tools", f"tools listed  {names}", at=entry.at))
        elif entry.kind == ev.MODEL_STARTED:
            step = Node("step", f"step {entry.step + 1}  model {p.get('model', '?')}", entry.at)
            root.children.append(step)
            calls = {}
        elif entry.kind in (ev.MODEL_COMPLETED, ev.MODEL_FAILED):
            _model(parent, p)
        elif entry.kind == ev.TOOL_INTENT:
            node = Node("tool", f"tool {p['name']}", at=entry.at)
            calls[p["position"]] = node
            parent.children.append(node)
        elif entry.kind in (ev.TOOL_ATTEMPT, ev.TOOL_COMPLETED):
            _tool(calls, parent, entry)
        elif entry.kind == ev.RUN_FINISHED:
            _finished(root, entry)
        elif entry.kind in (ev.LIMIT_HIT, ev.RUN_ERROR):  # they end the run, not a step
            root.children.append(_other(entry))
        else:
            parent.children.append(_other(entry))
    return root


def _model(step: Node, p: dict[str, Any]) -> None:
    usage = p.get("usage") or {}
    step.outcome = p.get("outcome") or p.get("status") or ("failed" if "code" in p else None)
    if step.outcome == "failed" and p.get("code"):
        step.outcome = f"failed ({p['code']})"
    step.latency_ms = p.get("latency_ms")
    step.input_tokens = usage.get("input_tokens")
    step.output_tokens = usage.get("output_tokens")
    step.cost_usd = p.get("cost_usd")


def _tool(calls: dict[int, Node], parent: Node, entry: JournalEntry) -> None:
    p = entry.payload
    node = calls.get(p["position"])
    if node is None:  # a result without an intent in view (should not happen)
        node = Node("tool", f"tool {p.get('tool') or p['item'].get('name')}", at=entry.at)
        calls[p["position"]] = node
        parent.children.append(node)
    if entry.kind == ev.TOOL_ATTEMPT:
        outcome = p["outcome"] + (f" ({p['error_type']})" if p.get("error_type") else "")
        node.children.append(
            Node(
                "attempt", f"attempt {p['attempt']}", p.get("started_at"), outcome, p["latency_ms"]
            )
        )
        return
    error = p.get("error") or {}
    node.outcome = "ok" if not error else f"error ({error.get('code')})"
    if p["item"].get("status") == "failed" and not error:
        node.outcome = "error (invalid_arguments)"
    latency = p.get("latency_ms")
    node.latency_ms = latency if latency is not None else round(p.get("latency_s", 0.0) * 1000, 3)
    attempts = int(p.get("attempts") or 0)
    node.label += f"  {attempts} attempt" + ("" if attempts == 1 else "s")


def _finished(root: Node, entry: JournalEntry) -> None:
    p = entry.payload
    usage = p.get("usage") or {}
    root.outcome = p["status"]
    root.latency_ms = p.get("latency_ms")
    root.input_tokens = usage.get("input_tokens")
    root.output_tokens = usage.get("output_tokens")
    root.cost_usd = p.get("cost_usd")
    reason = f" ({p['reason']})" if p.get("reason") else ""
    root.children.append(Node("finished", "finished", entry.at, f"{p['status']}{reason}"))


def _other(entry: JournalEntry) -> Node:
    """Limit hits, policy decisions, approvals and errors: one line each."""
    p = entry.payload
    if entry.kind == ev.LIMIT_HIT:
        return Node("limit", f"limit hit  {p['reason']}", entry.at, "limit_hit")
    if entry.kind == ev.POLICY_DECISION:
        label = f"policy {p.get('action')} {p.get('tool') or p.get('resource')}"
        return Node("policy", label, entry.at, p.get("decision"))
    if entry.kind in ev.APPROVAL_KINDS:
        return Node("approval", f"approval {p.get('tool')}", entry.at, p.get("outcome"))
    return Node(entry.kind, entry.kind, entry.at, p.get("outcome") or p.get("code"))


def render(root: Node) -> str:
    """The tree as text, one node a line."""
    lines = [_line(root)]
    _walk(root.children, "", lines)
    return "\n".join(lines) + "\n"


def _walk(children: list[Node], prefix: str, lines: list[str]) -> None:
    for index, child in enumerate(children):
        last = index == len(children) - 1
        lines.append(prefix + ("└── " if last else "├── ") + _line(child))
        _walk(child.children, prefix + ("    " if last else "│   "), lines)


def _line(node: Node) -> str:
    parts = [node.label]
    if node.outcome:
        parts.append(node.outcome)
    if node.latency_ms is not None:
        digits = 1 if node.latency_ms < 10 else 0  # sub-millisecond steps still show
        parts.append(f"{node.latency_ms:.{digits}f} ms")
    if node.input_tokens is not None or node.output_tokens is not None:
        parts.append(f"in {node.input_tokens or 0} / out {node.output_tokens or 0} tok")
    if node.cost_usd is not None:
        parts.append(f"${node.cost_usd:.6f}")
    return "  ".join(parts)
