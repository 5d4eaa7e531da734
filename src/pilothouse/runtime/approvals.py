"""Server-side approvals: a person's yes or no to one exact tool call.

When a tool's contract (``approval: required|four_eyes``) or a Cedar approval policy (the
engine's ``needs_approval``) stops a call, the run records an approval request here and
its response ends with an ``mcp_approval_request`` item. The decision comes back either
from the client (an ``mcp_approval_response`` input item with ``previous_response_id``)
or from an approver (``/admin/v1/approvals/{id}/approve|deny``, ``pilothouse approvals``).

An approval is:

* **bound** to the tool, the SHA-256 of its canonical arguments and the release: a
  continuation that would run other arguments or another tool definition is not approved;
* **single-use** and **expiring**: consuming it is one conditional update
  (approved → used, while unexpired), so two runs cannot both use it;
* **four-eyes** when the tool or the agent's policy says so: the key that started the run
  may not approve it;
* **tenant-scoped**: another tenant's approval id is not found (404);
* **audited**: the row keeps who asked, who decided, when and why, and each step is
  journaled on the requesting run as ``approval.requested|decided|used`` events.

Approvals live in the store, so they survive restarts and serve every process.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

import orjson

from pilothouse.control.principal import Principal
from pilothouse.errors import Conflict, NotFound, PermissionDenied
from pilothouse.protocol.ids import new_id
from pilothouse.runtime.agent import events
from pilothouse.storage.approvals import ApprovalStore, StoredApproval
from pilothouse.storage.base import JournalEntry, JournalStore


def canonical_arguments(arguments: dict[str, Any]) -> str:
    """Arguments as canonical JSON (sorted keys, no whitespace)."""
    return orjson.dumps(arguments, option=orjson.OPT_SORT_KEYS).decode()


def arguments_digest(arguments: dict[str, Any]) -> str:
    """SHA-256 (hex) of the canonical arguments."""
    return hashlib.sha256(canonical_arguments(arguments).encode()).hexdigest()


class ApprovalService:
    """Requests, decisions and use of approvals. See the module docstring."""

    def __init__(
        self,
        store: ApprovalStore,
        journal: JournalStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.journal = journal
        self.clock = clock
        # Told how many approvals await a decision after each change (the metrics' gauge).
        self.pending_changed: Callable[[int], None] | None = None

    async def request(
        self,
        *,
        tenant: str,
        run_id: str,
        agent: str,
        server_label: str,
        tool: str,
        arguments: dict[str, Any],
        release_id: str | None,
        requested_by: str,
        four_eyes: bool,
        ttl_s: int,
        policies: list[str],
    ) -> StoredApproval:
        """Record a pending approval for one call (the caller journals the request)."""
        now = int(self.clock())
        approval = StoredApproval(
            id=new_id("mcpr"),
            tenant=tenant,
            run_id=run_id,
            agent=agent,
            server_label=server_label,
            tool=tool,
            arguments=canonical_arguments(arguments),
            arguments_digest=arguments_digest(arguments),
            release_id=release_id or "",
            requested_by=requested_by,
            four_eyes=four_eyes,
            status="pending",
            created_at=now,
            expires_at=now + ttl_s,
            policies=orjson.dumps(policies).decode(),
        )
        await self.store.create_approval(approval)
        await self._report_pending()
        return approval

    async def get(self, tenant: str, approval_id: str) -> StoredApproval:
        """One approval of ``tenant``; NotFound for unknown and foreign ids."""
        found = await self.store.get_approval(tenant, approval_id)
        if found is None:
            raise NotFound(
                f"Approval '{approval_id}' not found.",
                param="approval_id",
                code="approval_not_found",
            )
        return self._expired(found)

    async def list(self, tenant: str, status: str | None = None) -> list[StoredApproval]:
        """Approvals of ``tenant``; ``expired`` is computed, not stored."""
        stored = "pending" if status == "expired" else status
        found = [self._expired(a) for a in await self.store.list_approvals(tenant, stored)]
        return [a for a in found if status is None or a.status == status]

    async def decide(
        self, tenant: str, approval_id: str, approve: bool, by: Principal, reason: str
    ) -> StoredApproval:
        """Approve or deny a pending approval as ``by``.

        Raises:
            NotFound: Unknown id, or another tenant's.
            PermissionDenied: Four-eyes and ``by`` is the key that asked.
            Conflict: It was decided already, or it expired.
        """
        approval = await self.get(tenant, approval_id)
        if approve and approval.four_eyes and by.key_id == approval.requested_by:
            raise PermissionDenied(
                "This approval needs a second person: the key that started the run may "
                "not approve it.",
                param="approval_id",
                code="self_approval_forbidden",
            )
        if approval.status != "pending":
            raise Conflict(
                f"Approval '{approval_id}' is {approval.status}.",
                param="approval_id",
                code=f"approval_{approval.status}",
            )
        status = "approved" if approve else "denied"
        now = int(self.clock())
        if not await self.store.decide_approval(
            tenant, approval_id, status, by.key_id, reason, now
        ):
            raise Conflict(
                f"Approval '{approval_id}' was decided or expired meanwhile.",
                param="approval_id",
                code="approval_not_pending",
            )
        await self.audit(approval, events.approval_decided(status, by.key_id, reason))
        await self._report_pending()
        return await self.get(tenant, approval_id)

    async def consume(
        self,
        approval: StoredApproval,
        tool: str,
        arguments: dict[str, Any],
        release_id: str | None,
        run_id: str,
    ) -> str | None:
        """Use an approved approval for one call; None when it may run, else why not."""
        problem = self.binding_problem(approval, tool, arguments, release_id)
        if problem is None:
            now = int(self.clock())
            if not await self.store.consume_approval(approval.tenant, approval.id, run_id, now):
                current = await self.get(approval.tenant, approval.id)
                problem = f"the approval is {current.status}, not approved and unused"
        await self.audit(approval, events.approval_used(run_id, problem))
        return problem

    def binding_problem(
        self,
        approval: StoredApproval,
        tool: str,
        arguments: dict[str, Any],
        release_id: str | None,
    ) -> str | None:
        """Why ``approval`` does not cover this call (tool, arguments, release), or None."""
        if approval.tool != tool:
            return f"the approval is for tool '{approval.tool}', not '{tool}'"
        if approval.arguments_digest != arguments_digest(arguments):
            return "the arguments differ from the approved ones"
        if approval.release_id != (release_id or ""):
            return "the tool's release changed since the approval"
        return None

    async def audit(self, approval: StoredApproval, event: events.Event) -> None:
        """Journal an approval event on the run that asked for it."""
        if self.journal is None:
            return
        entries = await self.journal.read(approval.run_id)
        seq = max((e.seq for e in entries), default=0) + 1
        entry = JournalEntry(
            run_id=approval.run_id,
            seq=seq,
            kind=event.kind,
            step=entries[-1].step if entries else 0,
            at=self.clock(),
            payload={"approval_id": approval.id, "tool": approval.tool, **event.payload},
        )
        await self.journal.append([entry])

    async def _report_pending(self) -> None:
        if self.pending_changed is not None:
            self.pending_changed(await self.store.count_pending(int(self.clock())))

    def _expired(self, approval: StoredApproval) -> StoredApproval:
        if approval.status in ("pending", "approved") and approval.expires_at <= self.clock():
            approval.status = "expired"
        return approval


def approval_json(approval: StoredApproval) -> dict[str, Any]:
    """An approval as the admin API and the CLI show it."""
    return {
        "object": "approval",
        "id": approval.id,
        "status": approval.status,
        "run_id": approval.run_id,
        "agent": approval.agent,
        "server_label": approval.server_label,
        "tool": approval.tool,
        "arguments": approval.arguments,
        "release_id": approval.release_id or None,
        "requested_by": approval.requested_by,
        "four_eyes": approval.four_eyes,
        "created_at": approval.created_at,
        "expires_at": approval.expires_at,
        "decided_by": approval.decided_by,
        "decided_at": approval.decided_at,
        "reason": approval.reason,
        "used_by_run": approval.used_by_run,
        "used_at": approval.used_at,
        "policies": orjson.loads(approval.policies),
    }
