"""Environments: named pointers at releases, moved by promote and rollback.

* ``promote REL --to ENV`` runs the gates against what ENV runs now and, if they pass,
  points ENV at REL (ending any canary).
* ``promote REL --to ENV --canary N`` keeps ENV's release and sends N % of its traffic to
  REL, sticky per conversation (the runtime decides per request).
* ``rollback ENV`` ends a canary if one runs, otherwise returns ENV to the release it ran
  before the last promotion — repeatedly, like popping a stack of promotions.

Every move records who, when, why and what the gates said; moves are compare-and-set on
the environment's version, so concurrent operators cannot silently overwrite each other.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import orjson

from pilothouse.control.gates import Gate, GateContext, GateResult, default_gates
from pilothouse.control.releases import Release, Releases
from pilothouse.errors import Conflict, InvalidRequest
from pilothouse.storage.base import EnvironmentEvent, EnvironmentState, ReleaseStore

DEFAULT_ENVIRONMENTS = ("dev", "staging", "prod")


class GateFailed(Conflict):
    """A promotion that a gate refused; ``results`` says which and why."""

    def __init__(self, results: list[GateResult]) -> None:
        failed = [r for r in results if not r.passed]
        summary = "; ".join(f"{r.gate}: {', '.join(r.notices) or 'failed'}" for r in failed)
        super().__init__(f"Promotion refused by gates: {summary}", code="gate_failed")
        self.results = results


@dataclass(slots=True)
class Move:
    """The outcome of a promote or rollback."""

    state: EnvironmentState
    event: EnvironmentEvent
    gates: list[GateResult]


class Environments:
    """Moves environment pointers. Knows the release store, never the runtime."""

    def __init__(
        self,
        store: ReleaseStore,
        releases: Releases,
        names: tuple[str, ...] = DEFAULT_ENVIRONMENTS,
        gates: list[Gate] | None = None,
    ) -> None:
        self.store = store
        self.releases = releases
        self.names = names
        self.gates = gates if gates is not None else default_gates()

    async def states(self) -> list[EnvironmentState]:
        """Every configured environment, pointing somewhere or not yet."""
        stored = {state.name: state for state in await self.store.environments()}
        return [stored.get(name, EnvironmentState(name, None)) for name in self.names]

    async def state(self, name: str) -> EnvironmentState:
        """One environment."""
        self._check(name)
        return next(s for s in await self.states() if s.name == name)

    async def promote(
        self,
        reference: str,
        environment: str,
        *,
        actor: str,
        reason: str = "",
        canary_percent: int | None = None,
        allow_breaking: str | None = None,
    ) -> Move:
        """Run the gates and move the pointer (or start a canary)."""
        current = await self.state(environment)
        candidate = await self.releases.get(reference)
        if canary_percent is not None and not 1 <= canary_percent <= 99:
            raise InvalidRequest(
                "A canary takes 1 to 99 percent.", param="canary", code="invalid_value"
            )
        if canary_percent is not None and current.release_id is None:
            raise InvalidRequest(
                f"{environment} runs no release yet: promote one fully first.",
                param="canary",
                code="no_stable_release",
            )
        results = await self._gate(environment, candidate, current.release_id, allow_breaking)
        if not all(r.passed for r in results):
            raise GateFailed(results)
        if canary_percent is None:
            target = EnvironmentState(environment, candidate.id)
            action = "promote"
        else:
            target = EnvironmentState(environment, current.release_id, candidate.id, canary_percent)
            action = "canary"
        return await self._move(current, target, action, actor, reason, results)

    async def rollback(self, environment: str, *, actor: str, reason: str = "") -> Move:
        """End the canary, or return to the release before the last promotion."""
        current = await self.state(environment)
        if current.canary_release_id is not None:
            target = EnvironmentState(environment, current.release_id)
            return await self._move(current, target, "canary_end", actor, reason, [])
        stack: list[str] = []
        for event in await self.store.environment_history(environment):
            if event.action == "promote" and event.release_id is not None:
                stack.append(event.release_id)
            elif event.action == "rollback" and stack:
                stack.pop()
        if len(stack) < 2:
            raise Conflict(
                f"{environment} has no earlier release to roll back to.",
                code="nothing_to_roll_back",
            )
        target = EnvironmentState(environment, stack[-2])
        return await self._move(current, target, "rollback", actor, reason, [])

    async def history(self, environment: str) -> list[EnvironmentEvent]:
        """Every move of the environment, oldest first."""
        self._check(environment)
        return await self.store.environment_history(environment)

    async def _gate(
        self,
        environment: str,
        candidate: Release,
        current_id: str | None,
        allow_breaking: str | None,
    ) -> list[GateResult]:
        current = await self.releases.get(current_id) if current_id else None
        context = GateContext(
            environment=environment,
            candidate=candidate,
            candidate_bundle=self.releases.bundle(candidate),
            current=current,
            current_bundle=self.releases.bundle(current) if current else None,
            allow_breaking=allow_breaking,
        )
        return [gate.check(context) for gate in self.gates]

    async def _move(
        self,
        current: EnvironmentState,
        target: EnvironmentState,
        action: str,
        actor: str,
        reason: str,
        gates: list[GateResult],
    ) -> Move:
        now = time.time()
        target.version = current.version + 1
        target.updated_at = now
        event = EnvironmentEvent(
            environment=target.name,
            version=target.version,
            action=action,
            release_id=target.release_id,
            canary_release_id=target.canary_release_id,
            canary_percent=target.canary_percent,
            actor=actor,
            reason=reason,
            gates=orjson.dumps([g.to_dict() for g in gates]).decode(),
            at=now,
        )
        if not await self.store.move_environment(target, event, current.version):
            raise Conflict(
                f"{target.name} moved meanwhile; look again and retry.",
                code="environment_moved",
                retry_after=1,
            )
        return Move(target, event, gates)

    def _check(self, name: str) -> None:
        if name not in self.names:
            raise InvalidRequest(
                f"Unknown environment '{name}' (configured: {', '.join(self.names)}).",
                param="environment",
                code="unknown_environment",
            )
