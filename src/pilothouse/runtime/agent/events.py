"""The journal's event kinds and their payloads (journal schema version 2).

The journal is the contract between the runtime and the observability plane (DESIGN §1):
resume and replay read it, and so do ``pilothouse runs``, the scorecard and, later, traces
and metrics. Every kind is built here, by one function each, so that its name and payload
stay stable and documented in one place. Names never change; fields are only added (a
reader of version 2 must ignore fields it does not know).

Every payload carries the run's context (:class:`EventContext`): ``agent``,
``agent_version``, ``release_id``, ``principal_id`` (the API key id, never a secret) and
``request_id``. On top of that, by kind (``*`` marks fields resume and replay read):

==================== ==================================================================
kind                 payload
==================== ==================================================================
run.started          model, outcome="started"
tools.listed         item*
model.started        model, reserved_usd
model.completed      model, output*, usage*, cost_usd*, status*, latency_ms, outcome
model.failed         model, code, message, error_type, latency_ms, outcome="failed"
tool.intent          position*, item_id*, name*, tool, arguments*, call_id*,
                     idempotency_key*, parse_error*
tool.attempt         position, tool, attempt, started_at, latency_ms, outcome (ok|error),
                     error_type, retryable, retried
tool.completed       position*, item*, idempotency_key*, result*, error*, attempts*,
                     latency_s, latency_ms, tool, outcome (ok|error|invalid_arguments)
policy.decision      action, resource, tool, decision (allow|deny|needs_approval),
                     policy_ids, reason, outcome=decision
approval.requested   approval_id, tool, arguments_digest, item, position, four_eyes, expires_at,
                     outcome="pending" (runtime/agent/tool_guard.py)
approval.decided     approval_id, tool, decision (approved|denied), by, reason,
                     outcome=decision (runtime/approvals.py)
approval.used        approval_id, tool, run_id, ok, problem, outcome (used|refused)
approval.resolved    approval_id, tool, decision (approved|denied|expired), approver_id,
                     outcome=decision
limit.hit            reason*, message*, outcome="limit_hit"
run.error            code, message, error_type, outcome="error"
run.finished         status*, reason*, usage*, cost_usd*, latency_ms, steps, tool_calls,
                     tools {name: {calls, errors, attempts}}, policy {decision: n},
                     approvals, error_code, outcome=status
==================== ==================================================================

Times: every entry has its own ``at`` (epoch seconds); latencies are milliseconds measured
on a monotonic clock. Tokens are the wire ``usage`` object; costs are US dollars.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

# Kinds, stable names (the journal's ``kind`` column).
RUN_STARTED = "run.started"
TOOLS_LISTED = "tools.listed"
MODEL_STARTED = "model.started"
MODEL_COMPLETED = "model.completed"
MODEL_FAILED = "model.failed"
TOOL_INTENT = "tool.intent"
TOOL_ATTEMPT = "tool.attempt"
TOOL_COMPLETED = "tool.completed"
POLICY_DECISION = "policy.decision"
APPROVAL_REQUESTED = "approval.requested"
APPROVAL_RESOLVED = "approval.resolved"
APPROVAL_DECIDED = "approval.decided"  # written by runtime/approvals.py (audit)
APPROVAL_USED = "approval.used"  # likewise: an approved call ran, or was refused
APPROVAL_KINDS = (APPROVAL_REQUESTED, APPROVAL_RESOLVED, APPROVAL_DECIDED, APPROVAL_USED)
LIMIT_HIT = "limit.hit"
RUN_ERROR = "run.error"
RUN_FINISHED = "run.finished"

KINDS = (
    RUN_STARTED,
    TOOLS_LISTED,
    MODEL_STARTED,
    MODEL_COMPLETED,
    MODEL_FAILED,
    TOOL_INTENT,
    TOOL_ATTEMPT,
    TOOL_COMPLETED,
    POLICY_DECISION,
    APPROVAL_REQUESTED,
    APPROVAL_RESOLVED,
    APPROVAL_DECIDED,
    APPROVAL_USED,
    LIMIT_HIT,
    RUN_ERROR,
    RUN_FINISHED,
)

Payload = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Event:
    """One journal event before it gets its run id, sequence number and time."""

    kind: str
    payload: Payload


@dataclass(frozen=True, slots=True)
class EventContext:
    """What every event of a run is stamped with. ``principal_id`` is a key id, never a
    key; None where no key is involved (internal calls, or before API keys exist)."""

    agent: str
    agent_version: str
    release_id: str | None = None
    principal_id: str | None = None
    request_id: str | None = None

    def stamp(self, payload: Payload) -> Payload:
        """``payload`` with the context fields added (the payload's own fields win)."""
        return {
            "agent": self.agent,
            "agent_version": self.agent_version,
            "release_id": self.release_id,
            "principal_id": self.principal_id,
            "request_id": self.request_id,
            **payload,
        }


def ms(seconds: float) -> float:
    """Seconds as milliseconds, rounded to microseconds (stable in golden files)."""
    return round(seconds * 1000.0, 3)


# -- builders ------------------------------------------------------------------------------


def run_started(model: str) -> Event:
    """The run began (written with the first step's intent)."""
    return Event(RUN_STARTED, {"model": model, "outcome": "started"})


def tools_listed(item: Payload) -> Event:
    """The agent's governed tools were listed to the model (an ``mcp_list_tools`` item)."""
    return Event(TOOLS_LISTED, {"item": item})


def model_started(model: str, reserved_usd: float) -> Event:
    """A model call is about to be made; ``reserved_usd`` is its worst-case cost."""
    return Event(MODEL_STARTED, {"model": model, "reserved_usd": reserved_usd})


def model_completed(
    model: str,
    output: list[Payload],
    usage: Payload | None,
    cost_usd: float,
    status: str,
    latency_s: float,
) -> Event:
    """A model call answered (``status`` is the model's: completed or incomplete)."""
    return Event(
        MODEL_COMPLETED,
        {
            "model": model,
            "output": output,
            "usage": usage,
            "cost_usd": cost_usd,
            "status": status,
            "latency_ms": ms(latency_s),
            "outcome": status,
        },
    )


def model_failed(model: str, code: str | None, message: str, error: str, latency_s: float) -> Event:
    """A model call failed for good (after the provider's retries and fallbacks)."""
    return Event(
        MODEL_FAILED,
        {
            "model": model,
            "code": code,
            "message": message,
            "error_type": error,
            "latency_ms": ms(latency_s),
            "outcome": "failed",
        },
    )


def tool_intent(
    position: int,
    item_id: str,
    name: str,
    arguments: str,
    call_id: str | None,
    idempotency_key: str | None,
    parse_error: str | None,
    approval_id: str | None = None,
) -> Event:
    """A governed call is about to be dispatched (journal first: before its effect);
    ``approval_id`` names the approval it runs under, if any."""
    return Event(
        TOOL_INTENT,
        {
            "position": position,
            "item_id": item_id,
            "name": name,
            "tool": name,
            "arguments": arguments,
            "call_id": call_id,
            "idempotency_key": idempotency_key,
            "parse_error": parse_error,
            "approval_id": approval_id,
        },
    )


def tool_attempt(
    position: int,
    tool: str,
    attempt: int,
    started_at: float,
    latency_s: float,
    error_type: str | None,
    retryable: bool,
    retried: bool,
) -> Event:
    """One attempt of a call that reached the tool; ``retried``: another attempt followed."""
    return Event(
        TOOL_ATTEMPT,
        {
            "position": position,
            "tool": tool,
            "attempt": attempt,
            "started_at": started_at,
            "latency_ms": ms(latency_s),
            "outcome": "ok" if error_type is None else "error",
            "error_type": error_type,
            "retryable": retryable,
            "retried": retried,
        },
    )


def tool_completed(
    position: int,
    tool: str,
    item: Payload,
    idempotency_key: str | None,
    result: Any,
    error: dict[str, str] | None,
    attempts: int,
    latency_s: float,
) -> Event:
    """A call came to its result (success or error), which goes back to the model."""
    outcome = "ok" if error is None else "error"
    if item.get("status") == "failed" and error is None:
        outcome = "invalid_arguments"
    return Event(
        TOOL_COMPLETED,
        {
            "position": position,
            "tool": tool,
            "item": item,
            "idempotency_key": idempotency_key,
            "result": result,
            "error": error,
            "attempts": attempts,
            "latency_s": latency_s,
            "latency_ms": ms(latency_s),
            "outcome": outcome,
        },
    )


def policy_decision(
    action: str,
    resource: str,
    decision: str,
    *,
    tool: str | None = None,
    policy_ids: list[str] | None = None,
    reason: str | None = None,
    **details: Any,
) -> Event:
    """An authorization decision (``allow``, ``deny`` or ``needs_approval``) on an
    action such as ``call_tool`` or ``invoke_agent``, with the policies that decided;
    ``details`` are the engine's further facts (policy names, principal, errors)."""
    return Event(
        POLICY_DECISION,
        {
            "action": action,
            "resource": resource,
            "tool": tool,
            "decision": decision,
            "policy_ids": list(policy_ids or []),
            "reason": reason,
            "outcome": decision,
            **details,
        },
    )


def approval_decided(decision: str, by: str, reason: str) -> Event:
    """An approver decided (``approved``/``denied``); journaled on the run that asked,
    with the approval's id and tool (:meth:`ApprovalService.audit`)."""
    return Event(
        APPROVAL_DECIDED, {"decision": decision, "outcome": decision, "by": by, "reason": reason}
    )


def approval_used(run_id: str, problem: str | None) -> Event:
    """An approved call ran under its approval (``used``) or was refused (``refused``)."""
    return Event(
        APPROVAL_USED,
        {
            "run_id": run_id,
            "ok": problem is None,
            "outcome": "used" if problem is None else "refused",
            "problem": problem,
        },
    )


def approval_requested(approval_id: str, tool: str, arguments_digest: str, **details: Any) -> Event:
    """A call waits for an approval bound to (tool, arguments digest, release);
    ``details`` are the tool guard's (the request item, its position, four-eyes, expiry)."""
    return Event(
        APPROVAL_REQUESTED,
        {
            "approval_id": approval_id,
            "tool": tool,
            "arguments_digest": arguments_digest,
            "outcome": "pending",
            **details,
        },
    )


def approval_resolved(
    approval_id: str, tool: str, decision: str, approver_id: str | None = None
) -> Event:
    """An approval was ``approved``, ``denied`` or ``expired`` (``approver_id``: a key id)."""
    return Event(
        APPROVAL_RESOLVED,
        {
            "approval_id": approval_id,
            "tool": tool,
            "decision": decision,
            "approver_id": approver_id,
            "outcome": decision,
        },
    )


def limit_hit(reason: str, message: str) -> Event:
    """A bound ended the run (``reason`` names the limit, as in ``incomplete_details``)."""
    return Event(LIMIT_HIT, {"reason": reason, "message": message, "outcome": "limit_hit"})


def run_error(code: str | None, message: str, error: str) -> Event:
    """The run failed with an error (``error`` is the exception's type name)."""
    return Event(
        RUN_ERROR, {"code": code, "message": message, "error_type": error, "outcome": "error"}
    )


def run_finished(
    status: str,
    reason: str | None,
    usage: Payload,
    cost_usd: float,
    latency_s: float,
    tally: RunTally,
    steps: int,
) -> Event:
    """The run ended; the payload summarises it for readers that skip the other entries."""
    return Event(
        RUN_FINISHED,
        {
            "status": status,
            "reason": reason,
            "usage": usage,
            "cost_usd": cost_usd,
            "latency_ms": ms(latency_s),
            "steps": steps,
            **tally.summary(),
            "outcome": status,
        },
    )


@dataclass(slots=True)
class RunTally:
    """Counts kept while a run journals, so that ``run.finished`` can summarise the run
    (tool calls and errors per tool, policy decisions, approvals, the last error code)."""

    calls: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    attempts: Counter[str] = field(default_factory=Counter)
    policy: Counter[str] = field(default_factory=Counter)
    approvals: Counter[str] = field(default_factory=Counter)
    error_code: str | None = None

    def observe(self, kind: str, payload: Payload) -> None:
        """Fold one event in."""
        if kind == TOOL_COMPLETED:
            tool = str(payload.get("tool") or payload["item"].get("name"))
            self.calls[tool] += 1
            self.attempts[tool] += int(payload.get("attempts") or 0)
            if payload.get("error") is not None or payload["item"].get("status") == "failed":
                self.errors[tool] += 1
        elif kind == POLICY_DECISION:
            self.policy[str(payload.get("decision"))] += 1
        elif kind in APPROVAL_KINDS:
            self.approvals[str(payload.get("outcome"))] += 1
        elif kind in (MODEL_FAILED, RUN_ERROR):
            self.error_code = payload.get("code")

    def summary(self) -> Payload:
        """The tally as ``run.finished`` fields."""
        return {
            "tool_calls": sum(self.calls.values()),
            "tools": {
                name: {
                    "calls": self.calls[name],
                    "errors": self.errors[name],
                    "attempts": self.attempts[name],
                }
                for name in sorted(self.calls)
            },
            "policy": dict(sorted(self.policy.items())),
            "approvals": dict(sorted(self.approvals.items())),
            "error_code": self.error_code,
        }
