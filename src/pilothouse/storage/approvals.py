"""The approvals store's contract: one row per request for a person's decision.

An approval is written when a run pauses on a tool call that needs one, and moves only
forward, each move a conditional update so that two deciders (or two runs) racing for
one approval cannot both win::

    pending ──decide──▶ approved ──consume──▶ used
       │                   │
       └──decide──▶ denied └── (expires_at passes: no longer usable)

The row is the audit record too: who asked (``requested_by``, a key id), who decided,
when and why. Arguments are kept as the canonical JSON the digest was taken over, so a
continuation runs exactly what was approved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(slots=True)
class StoredApproval:
    """One approval request and its fate (see the module docstring)."""

    id: str
    tenant: str
    run_id: str
    agent: str
    server_label: str
    tool: str
    arguments: str
    arguments_digest: str
    release_id: str
    requested_by: str
    four_eyes: bool
    status: str
    created_at: int
    expires_at: int
    policies: str = "[]"
    decided_by: str | None = None
    decided_at: int | None = None
    reason: str | None = None
    used_by_run: str | None = None
    used_at: int | None = None


class ApprovalStore(Protocol):
    """Approvals, tenant-scoped on every read."""

    async def create_approval(self, approval: StoredApproval) -> None:
        """Insert a new (pending) approval."""
        ...

    async def get_approval(self, tenant: str, approval_id: str) -> StoredApproval | None:
        """One approval of ``tenant``; None for an unknown id or another tenant's."""
        ...

    async def count_pending(self, now: int) -> int:
        """Pending, unexpired approvals of every tenant (for the metrics)."""
        ...

    async def list_approvals(self, tenant: str, status: str | None) -> list[StoredApproval]:
        """Approvals of ``tenant`` (of one status when given), oldest first."""
        ...

    async def decide_approval(
        self, tenant: str, approval_id: str, status: str, by: str, reason: str, now: int
    ) -> bool:
        """Move a pending, unexpired approval to ``approved``/``denied``; False if it was
        not pending (or had expired) any more."""
        ...

    async def consume_approval(self, tenant: str, approval_id: str, run_id: str, now: int) -> bool:
        """Move an approved, unexpired approval to ``used``; False if another run got it
        first, or it was not approved, or it expired."""
        ...
