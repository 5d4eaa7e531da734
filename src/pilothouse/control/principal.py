"""Who is asking: an API key's identity as the rest of the system sees it.

A :class:`Principal` is what authentication yields and what authorization (the Cedar
engine in :mod:`pilothouse.control.policy`) and the journal look at: the key's public id,
its tenant, its roles and its scopes. It never holds the key itself. This module imports
nothing heavy, because every request builds one.

Roles: ``invoke`` (create and read responses, conversations), ``approve`` (decide
approvals), ``operate`` (releases, environments, kill switches, runs), ``admin`` (keys).
No role implies another: a key holds exactly what it was given (the bootstrap key holds
all four).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pilothouse.control.budgets import BudgetLimits

ROLES = ("invoke", "approve", "operate", "admin")


@dataclass(frozen=True, slots=True)
class Scopes:
    """What a key is limited to; ``None`` means not limited in that dimension."""

    agents: frozenset[str] | None = None
    tools: frozenset[str] | None = None
    environments: frozenset[str] | None = None

    def to_cedar(self) -> dict[str, list[str]]:
        """The scopes record, leaving out unlimited dimensions (``has`` is then false)."""
        return {name: sorted(values) for name, values in self._present() if values is not None}

    def to_json(self) -> dict[str, list[str]]:
        """The stored form (the same shape as :meth:`to_cedar`)."""
        return self.to_cedar()

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Scopes:
        """The inverse of :meth:`to_json`."""

        def dimension(name: str) -> frozenset[str] | None:
            values = raw.get(name)
            return None if values is None else frozenset(str(v) for v in values)

        return cls(dimension("agents"), dimension("tools"), dimension("environments"))

    def _present(self) -> list[tuple[str, frozenset[str] | None]]:
        return [("agents", self.agents), ("tools", self.tools), ("environments", self.environments)]


@dataclass(frozen=True, slots=True)
class Principal:
    """An API key as a principal.

    Attributes:
        key_id: The key's public id (never the secret).
        tenant: The tenant the key belongs to.
        roles: Any of ``invoke``, ``approve``, ``operate``, ``admin`` (others are kept,
            so bundles may define their own).
        scopes: Agents, tools and environments the key is limited to.
        system: The bootstrap key (``PILOTHOUSE_ADMIN_KEY``): it may manage keys of every
            tenant. Keys in the store never are.
        limits: The key's own budgets and rate limits (``runtime/budgets``), if any.
    """

    key_id: str
    tenant: str
    roles: frozenset[str] = frozenset()
    scopes: Scopes = field(default_factory=Scopes)
    system: bool = False
    limits: BudgetLimits | None = None

    def has_role(self, role: str) -> bool:
        """Whether the key holds ``role``."""
        return role in self.roles
