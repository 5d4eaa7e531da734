"""Putting authorization on a runtime: the composition root's one call for policies.

:func:`policy_parts` builds what every runtime of a process shares (the engine cache,
the approval service over the store); :func:`with_policy` gives one runtime its bundle's
:class:`~pilothouse.runtime.agent.policy_gate.PolicyGate`. Kept apart from ``wiring.py``
so that the policy engine's import stays lazy: nothing here imports it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pilothouse.control.bundle import Bundle
from pilothouse.runtime.agent.policy_gate import DecisionObserver, PolicyGate
from pilothouse.runtime.agent.runner import AgentRuntime
from pilothouse.runtime.approvals import ApprovalService
from pilothouse.storage.approvals import ApprovalStore
from pilothouse.storage.base import JournalStore

if TYPE_CHECKING:
    from pilothouse.control.policy import EngineCache


class LazyEngines:
    """An engine cache created on first use (importing the engine costs about a second)."""

    def __init__(self) -> None:
        self._cache: EngineCache | None = None

    def get(self) -> EngineCache:
        """The process's engine cache."""
        if self._cache is None:
            from pilothouse.control.policy import EngineCache

            self._cache = EngineCache()
        return self._cache


def policy_parts(
    approval_store: ApprovalStore | None, journal: JournalStore | None
) -> tuple[LazyEngines, ApprovalService | None]:
    """What every runtime of the process shares: engines, and approvals when the store
    keeps them."""
    approvals = ApprovalService(approval_store, journal) if approval_store is not None else None
    return LazyEngines(), approvals


def with_policy(
    runtime: AgentRuntime,
    bundle: Bundle,
    engines: LazyEngines,
    approvals: ApprovalService | None,
    observe: DecisionObserver | None = None,
) -> AgentRuntime:
    """``runtime`` with its bundle's policy gate (decisions reported to ``observe``) and
    the shared approvals."""
    runtime.policy = PolicyGate(bundle, runtime.release_id, runtime.environment, engines.get)
    runtime.policy.observe = observe
    runtime.approvals = approvals
    return runtime
