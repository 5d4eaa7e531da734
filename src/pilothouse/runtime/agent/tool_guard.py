"""The policy gate in front of the tool gateway: allow, block, or wait for an approval.

The executor hands every batch of governed calls to :meth:`ToolGuard.screen` right
before the gateway would run them, after their intents are journaled and before any
side effect. Each call is authorized (``call_tool``, with its arguments, the
environment, the run's cost and call count so far, the data classes found in the
arguments, and whether an approval is held) and ends up in one of three places:

* **allowed** — the gateway runs it;
* **blocked** — it never runs; the model gets a policy error as the tool's result (an
  ``mcp_call`` item with ``error``), and with ``policy: {on_deny: end}`` the run ends
  ``incomplete`` (reason ``policy_denied``);
* **awaiting** — the tool's contract or a Cedar approval policy wants a person's
  approval: an approval is recorded (:mod:`pilothouse.runtime.approvals`), the response
  carries an ``mcp_approval_request`` item, and the run stops there (status
  ``completed``, as OpenAI's MCP approvals do).

:meth:`ToolGuard.answered` starts a continuation: the ``mcp_approval_response`` items of
its input become calls (with the approved arguments, never new ones), which the screen
then lets through only if the approval is approved, unused, unexpired and bound to this
tool, these arguments and this release. Approving there is the ``approve`` action, so
the key needs the ``approve`` role (and, under four-eyes, must not be the requester's).

``classify`` is the data-boundary hook: it names the data classes in a call's arguments
(none by default).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from pilothouse.control.principal import Principal
from pilothouse.errors import PermissionDenied
from pilothouse.runtime.agent import events
from pilothouse.runtime.agent.journal import RunJournal
from pilothouse.runtime.agent.limits import LimitHit
from pilothouse.runtime.agent.policy_gate import PolicyGate
from pilothouse.runtime.agent.state import RunState, idempotency_key, mcp_item_id
from pilothouse.runtime.approvals import ApprovalService
from pilothouse.runtime.providers.base import Item
from pilothouse.runtime.tools.base import ToolCall
from pilothouse.storage.approvals import StoredApproval

if TYPE_CHECKING:
    from pilothouse.control.policy import Decision
    from pilothouse.runtime.agent.executor import PendingCall

Classifier = Callable[[ToolCall], frozenset[str]]


def no_data_classes(call: ToolCall) -> frozenset[str]:
    """The default classifier: no data classes."""
    return frozenset()


@dataclass(slots=True)
class Screened:
    """Where each call of a batch goes, by position."""

    allowed: set[int] = field(default_factory=set)
    blocked: dict[int, str] = field(default_factory=dict)
    awaiting: dict[int, Item] = field(default_factory=dict)
    end: LimitHit | None = None


class ToolGuard:
    """Authorization and approvals for one run's tool calls. See the module docstring."""

    def __init__(
        self,
        gate: PolicyGate,
        approvals: ApprovalService | None,
        principal: Principal,
        state: RunState,
        journal: RunJournal,
        raw_input: list[Item] | None = None,
        classify: Classifier = no_data_classes,
    ) -> None:
        self.raw_input = raw_input or []
        self.gate = gate
        self.approvals = approvals
        self.principal = principal
        self.state = state
        self.journal = journal
        self.classify = classify

    def check_model(self, model: str) -> LimitHit | None:
        """``use_model`` before a model call; a denial ends the run."""
        resource = ("model", model)
        decision = self.gate.authorize(
            self.principal,
            "use_model",
            resource,
            agent=self.state.agent.name,
            cost_usd=self.state.cost_usd,
            tool_calls=self.state.tool_calls,
            headers=self.state.headers,
        )
        self.gate.record(self.journal, decision, resource)
        if decision.allowed:
            return None
        return LimitHit(
            "policy_denied", f"policy does not allow model '{model}': {decision.reason}"
        )

    async def screen(self, pending: list[PendingCall]) -> Screened:
        """Authorize a batch of calls (see the module docstring)."""
        screened = Screened()
        for p in pending:
            if p.call is None:
                continue
            verdict = await self._one(p, p.call)
            if verdict is None:
                screened.allowed.add(p.position)
            elif isinstance(verdict, str):
                screened.blocked[p.position] = verdict
            else:
                screened.awaiting[p.position] = verdict
        if screened.blocked and self.state.agent.policy.on_deny == "end":
            first = screened.blocked[min(screened.blocked)]
            screened.end = LimitHit("policy_denied", f"a tool call was refused ({first})")
        return screened

    async def _one(self, p: PendingCall, call: ToolCall) -> str | Item | None:
        """None to run the call, an error text to block it, an item to await approval."""
        approved = False
        if p.approval_id is not None:
            problem = await self._use_approval(p.approval_id, call)
            if problem is not None:
                return problem
            approved = True
        classes = self.classify(call)
        decision = self._authorize(call, approved, classes)
        contract = self.state.tools.get(call.name)
        wants_approval = contract is not None and contract.approval is not None
        if decision.outcome.value == "deny":
            found = f"; data classes in the arguments: {', '.join(sorted(classes))}"
            return f"policy_denied: {decision.reason}{found if classes else ''}"
        if decision.outcome.value == "needs_approval" or (wants_approval and not approved):
            return await self._request(p, call, decision)
        return None

    def _authorize(self, call: ToolCall, approved: bool, classes: frozenset[str]) -> Decision:
        resource = ("tool", call.name)
        decision = self.gate.authorize(
            self.principal,
            "call_tool",
            resource,
            agent=self.state.agent.name,
            arguments=call.arguments,
            approved=approved,
            cost_usd=self.state.cost_usd,
            tool_calls=self.state.tool_calls,
            data_classes=classes,
            headers=call.headers,
        )
        self.gate.record(self.journal, decision, resource)
        return decision

    async def _use_approval(self, approval_id: str, call: ToolCall) -> str | None:
        if self.approvals is None:
            return "approval_unavailable: this server keeps no approvals"
        approval = await self.approvals.get(self.state.tenant, approval_id)
        if approval.status == "denied":
            return f"approval_denied: {approval.reason or 'the approver said no'}"
        if approval.status != "approved":
            return f"approval_not_valid: the approval is {approval.status}"
        problem = await self.approvals.consume(
            approval, call.name, call.arguments, self.state.release_id, self.state.run_id
        )
        return None if problem is None else f"approval_not_valid: {problem}"

    async def _request(self, p: PendingCall, call: ToolCall, decision: Decision) -> str | Item:
        if self.approvals is None:
            return "approval_unavailable: the call needs an approval this server cannot keep"
        state = self.state
        contract = state.tools.get(call.name)
        four_eyes = state.agent.policy.four_eyes or (
            contract is not None and contract.approval == "four_eyes"
        )
        approval = await self.approvals.request(
            tenant=state.tenant,
            run_id=state.run_id,
            agent=state.agent.name,
            server_label=state.agent.server_label,
            tool=call.name,
            arguments=call.arguments,
            release_id=state.release_id,
            requested_by=self.principal.key_id,
            four_eyes=four_eyes,
            ttl_s=state.agent.policy.approval_ttl_s,
            policies=list(decision.policy_ids),
        )
        item = approval_request_item(approval)
        self.journal.emit(
            events.approval_requested(
                approval.id,
                call.name,
                approval.arguments_digest,
                item=item,
                position=p.position,
                name=call.name,
                four_eyes=four_eyes,
                expires_at=approval.expires_at,
            )
        )
        return item

    async def answered(self) -> list[PendingCall]:
        """The calls a continuation owes: one per unanswered ``mcp_approval_response``.

        Raises:
            NotFound: An approval id that is unknown (or another tenant's).
            PermissionDenied: Approving without the ``approve`` action, or self-approval
                under four-eyes.
        """
        raw_input = self.raw_input
        done = {i.get("approval_request_id") for i in raw_input if i.get("type") == "mcp_call"}
        answers = [
            i
            for i in raw_input
            if i.get("type") == "mcp_approval_response" and i.get("approval_request_id") not in done
        ]
        if not answers or self.approvals is None:
            return []
        from pilothouse.runtime.agent.executor import PendingCall

        calls = []
        for position, answer in enumerate(answers):
            approval = await self._decide(answer)
            arguments: dict[str, Any] = orjson.loads(approval.arguments)
            state = self.state
            call = ToolCall(
                name=approval.tool,
                arguments=arguments,
                call_id=approval.id,
                idempotency_key=idempotency_key(state.run_id, state.step, position),
                run_id=state.run_id,
                headers={**state.headers, "x-pilothouse-run-id": state.run_id},
            )
            item_id = mcp_item_id(state.run_id, state.step, position)
            calls.append(
                PendingCall(
                    position, item_id, call, call.name, approval.arguments, None, approval.id
                )
            )
        return calls

    async def _decide(self, answer: Item) -> StoredApproval:
        """Record the client's decision on a still pending approval."""
        assert self.approvals is not None
        approval_id = str(answer.get("approval_request_id"))
        approval = await self.approvals.get(self.state.tenant, approval_id)
        if approval.status != "pending":
            return approval
        approve = bool(answer.get("approve"))
        if approve:
            resource = ("tool", approval.tool)
            decision = self.gate.authorize(
                self.principal,
                "approve",
                resource,
                agent=approval.agent,
                arguments=orjson.loads(approval.arguments),
            )
            self.gate.record(self.journal, decision, resource)
            if not decision.allowed:
                raise PermissionDenied(
                    f"This key may not approve '{approval.tool}': {decision.reason}",
                    param="input",
                    code="approval_not_permitted",
                )
        reason = str(answer.get("reason") or "")
        return await self.approvals.decide(
            self.state.tenant, approval_id, approve, self.principal, reason
        )


def approval_request_item(approval: StoredApproval) -> Item:
    """The ``mcp_approval_request`` output item of an approval."""
    return {
        "type": "mcp_approval_request",
        "id": approval.id,
        "server_label": approval.server_label,
        "name": approval.tool,
        "arguments": approval.arguments,
    }
