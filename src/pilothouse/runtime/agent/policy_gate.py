"""Authorization of a runtime's agents with Cedar, and the journal event of each decision.

A :class:`PolicyGate` belongs to one runtime, that is to one bundle or release: it asks
the release's policy engine (``policies/*.cedar`` plus the baseline, compiled once per
release and tenant in a shared :class:`~pilothouse.control.policy.EngineCache`) about

* ``invoke_agent`` — before a run starts (a denial is a 403 and nothing is persisted);
* ``use_model`` — before each model call of a run;
* ``call_tool`` — before each governed tool call (see :mod:`.tool_guard`).

The engine package costs about a second to import, so it is imported on first use, by
the first agent request, never by plain model traffic.

Every decision made inside a run is journaled through :meth:`PolicyGate.record`;
:func:`decision_event` is the one place that shapes the ``policy.decision`` event (action,
resource type and id, outcome, policy ids, principal key id, reason).

A run without a caller (resume after a crash, a continuation started by an approver)
acts as the principal stored with the run when it was created
(:func:`principal_to_json` / :func:`principal_from_json`); a run stored without one acts
as a principal with no roles, which the baseline denies: there is no allow-all.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pilothouse.control.bundle import Bundle
from pilothouse.control.principal import Principal, Scopes
from pilothouse.runtime.agent import events
from pilothouse.runtime.agent.memo import IdentityMemo

if TYPE_CHECKING:
    from pilothouse.control.policy import Context, Decision, EngineCache, PolicyEngine, Resource
    from pilothouse.runtime.agent.journal import RunJournal

DecisionObserver = Callable[[Mapping[str, str], str, str, Sequence[str]], None]
"""Told of each decision: (correlation headers, action, outcome, policy ids)."""

_EVENTS_KEPT = 4096
"""Decision events a gate keeps for reuse (then it starts afresh)."""

NOBODY = "anonymous"
"""The key id of the role-less principal a run without a stored principal acts as."""


class PolicyGate:
    """Decisions for one runtime's bundle. See the module docstring.

    Args:
        bundle: The bundle (its root holds ``policies/``).
        release_id: The release it came from (None for a development bundle).
        environment: The environment it serves.
        cache: Gives the engine cache shared by every runtime of the process.
    """

    def __init__(
        self,
        bundle: Bundle,
        release_id: str | None,
        environment: str | None,
        cache: Callable[[], EngineCache] | None = None,
    ) -> None:
        self.bundle = bundle
        self.release_id = release_id
        self.environment = environment or ""
        self._shared = cache
        self._cache: EngineCache | None = None
        self._key = release_id or f"bundle:{Path(bundle.root).resolve()}"
        # The engine of the tenant asked last: an engine never goes stale (its release is
        # immutable), so the common case (one tenant) skips the shared cache's lookup; one
        # engine at most, so the shared cache's bound on engines still holds.
        self._last: tuple[str, PolicyEngine] | None = None
        # Told of every decision (action, outcome, policy ids, correlation headers): the
        # metrics and the span those headers name (wired to Telemetry.policy_decision).
        self.observe: DecisionObserver | None = None
        self._events: IdentityMemo[events.Event] = IdentityMemo(_EVENTS_KEPT)

    def record(self, journal: RunJournal, decision: Decision, resource: tuple[str, str]) -> None:
        """Journal one decision as a ``policy.decision`` event (:func:`decision_event`).

        Engines hand out the same :class:`Decision` for a request they answered before, so
        the event of a decision seen before is the one made then. Events are only read:
        the journal stamps a copy of each payload.
        """
        journal.emit(
            self._events.get(decision, resource, lambda: decision_event(decision, resource))
        )

    def engine(self, tenant: str) -> PolicyEngine:
        """The release's engine for ``tenant``, built on first use."""
        last = self._last
        if last is not None and last[0] == tenant:
            return last[1]
        from pilothouse.control.policy import EngineCache

        if self._cache is None:
            self._cache = self._shared() if self._shared is not None else EngineCache()
        engine = self._cache.get(f"{self._key}/{tenant}", lambda: self._build(tenant))
        self._last = (tenant, engine)
        return engine

    def _build(self, tenant: str) -> PolicyEngine:
        from pilothouse.control.policy import Catalog, PolicyEngine, load_policies

        environments = [self.environment] if self.environment else []
        catalog = Catalog.from_bundle(self.bundle, tenant, environments)
        return PolicyEngine(load_policies(Path(self.bundle.root)), catalog)

    def authorize(
        self,
        principal: Principal,
        action: str,
        resource: tuple[str, str],
        *,
        agent: str,
        arguments: dict[str, Any] | None = None,
        approved: bool = False,
        cost_usd: float = 0.0,
        tool_calls: int = 0,
        data_classes: frozenset[str] = frozenset(),
        headers: Mapping[str, str] | None = None,
    ) -> Decision:
        """One decision; ``resource`` is ``(kind, name)`` with kind agent, tool or model;
        ``headers`` are the correlation headers of what is decided on (for the trace)."""
        Context, targets = _policy_types()
        kind, name = resource
        context = Context(
            environment=self.environment,
            agent=agent,
            arguments=arguments or {},
            approved=approved,
            cost_usd_micros=round(cost_usd * 1_000_000),
            tool_call_count=tool_calls,
            data_classes=data_classes,
        )
        decision = self.engine(principal.tenant).authorize(
            principal, action, targets[kind](name), context
        )
        if self.observe is not None:
            self.observe(headers or {}, action, decision.outcome.value, decision.policy_ids)
        return decision


@functools.cache
def _policy_types() -> tuple[type[Context], dict[str, Callable[[str], Resource]]]:
    """The policy package's context class and resource constructors by kind, imported on
    first use (see the module docstring)."""
    from pilothouse.control.policy import Context, Resource

    return Context, {"agent": Resource.agent, "tool": Resource.tool, "model": Resource.model}


def decision_event(decision: Decision, resource: tuple[str, str]) -> events.Event:
    """The ``policy.decision`` journal event of ``decision`` (never tool arguments: they
    are journaled, redacted, with the call itself)."""
    kind, name = resource
    return events.policy_decision(
        decision.action,
        f"{kind}:{name}",
        decision.outcome.value,
        tool=name if kind == "tool" else None,
        policy_ids=list(decision.policy_ids),
        reason=decision.reason,
        resource_type=kind,
        resource_id=name,
        policy_names=list(decision.policy_names),
        principal=decision.principal,
        errors=list(decision.errors),
        policy_set=decision.policy_set,
    )


def policy_event(decision: Decision, resource: tuple[str, str]) -> dict[str, Any]:
    """The payload of :func:`decision_event`."""
    return decision_event(decision, resource).payload


def principal_to_json(principal: Principal | None) -> dict[str, Any] | None:
    """The principal as stored in a run's spec: ids, roles and scopes, never a secret."""
    if principal is None:
        return None
    return {
        "key_id": principal.key_id,
        "tenant": principal.tenant,
        "roles": sorted(principal.roles),
        "scopes": principal.scopes.to_json(),
        "system": principal.system,
    }


def principal_from_json(raw: dict[str, Any] | None, tenant: str) -> Principal:
    """The principal a stored run acts as (role-less when none was stored)."""
    if not raw:
        return Principal(NOBODY, tenant)
    return Principal(
        key_id=str(raw["key_id"]),
        tenant=str(raw.get("tenant") or tenant),
        roles=frozenset(raw.get("roles") or ()),
        scopes=Scopes.from_json(raw.get("scopes") or {}),
        system=bool(raw.get("system", False)),
    )
