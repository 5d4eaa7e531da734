"""What the engine concludes about one request, with the policies that made it so.

A :class:`Decision` is a value, not an exception: a denial or a request for approval
steers the agent loop (a policy error handed back to the model, an
``mcp_approval_request``), it is not a failure of Pilothouse. Every decision names the
policies that determined it and the evaluation errors Cedar reported, and renders itself
as the policy event the journal records (:meth:`Decision.to_event`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    """The three answers: go ahead, stop, or wait for a person's approval."""

    ALLOW = "allow"
    DENY = "deny"
    NEEDS_APPROVAL = "needs_approval"


@dataclass(frozen=True, slots=True)
class PolicyRef:
    """A policy a decision rests on.

    Attributes:
        id: The engine's id of the policy: ``<file>:<line>`` of its first line
            (``policies/refunds.cedar:12``, ``baseline.cedar:40``), stable while the file is.
        name: Its ``@id("...")`` annotation, the human name, if it has one.
        effect: ``permit`` or ``forbid``.
    """

    id: str
    name: str | None
    effect: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"id": self.id, "name": self.name, "effect": self.effect}

    def __str__(self) -> str:
        return f"{self.name} ({self.id})" if self.name else self.id


@dataclass(frozen=True, slots=True)
class Decision:
    """The engine's answer to one request.

    Attributes:
        outcome: Allow, deny or needs approval.
        action: The action asked for (``call_tool``).
        principal: The key id of the principal.
        resource: The resource as Cedar writes it (``Pilothouse::Tool::"refund"``).
        policies: The determining policies: the permits behind an allow; the forbids
            behind a deny (empty for a deny by default, when nothing permits); the
            approval policies behind a needs-approval.
        errors: ``policy id: message`` for each policy Cedar could not evaluate, and any
            reason the request itself could not be evaluated.
        reason: One sentence for people (logs, the policy error shown to the model).
        policy_set: Digest of the policy set that decided, tying the decision to the
            exact policy text of the release.
    """

    outcome: Outcome
    action: str
    principal: str
    resource: str
    policies: tuple[PolicyRef, ...]
    errors: tuple[str, ...]
    reason: str
    policy_set: str

    @property
    def allowed(self) -> bool:
        """True only for :attr:`Outcome.ALLOW`."""
        return self.outcome is Outcome.ALLOW

    @property
    def policy_ids(self) -> tuple[str, ...]:
        """Engine ids of the determining policies."""
        return tuple(policy.id for policy in self.policies)

    @property
    def policy_names(self) -> tuple[str, ...]:
        """``@id`` names of the determining policies that have one."""
        return tuple(policy.name for policy in self.policies if policy.name)

    def to_event(self) -> dict[str, Any]:
        """The ``policy.decision`` journal event (no arguments: they are the caller's to
        redact and record)."""
        return {
            "type": "policy.decision",
            "outcome": self.outcome.value,
            "action": self.action,
            "principal": self.principal,
            "resource": self.resource,
            "policies": [policy.to_dict() for policy in self.policies],
            "errors": list(self.errors),
            "reason": self.reason,
            "policy_set": self.policy_set,
        }
