"""Promotion gates: checks a release must pass before an environment points at it.

A gate looks at the candidate release (and what the environment runs now) and returns a
:class:`GateResult`: passed or not, with notices a person should read either way. Gates are
pluggable — :func:`default_gates` lists the ones every promotion runs:

* ``bundle`` — the release loads: every agent, tool, prompt and price is valid.
* ``contracts`` — no tool contract changes in a way that breaks its callers, compared with
  the environment's current release (``--allow-breaking REASON`` lets it through, noted).
* ``policy-lint`` — configuration that would make a policy unenforceable (a cost ceiling
  on an unpriced model) fails; risky but legal choices are noticed.
* ``golden-journeys`` — the release-quality suite; not built yet, so it passes with a
  visible notice rather than pretending to have checked anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from pilothouse.control.bundle import Bundle
from pilothouse.control.releases import Release


@dataclass(slots=True)
class GateResult:
    """What one gate concluded."""

    gate: str
    passed: bool
    notices: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "gate": self.gate,
            "passed": self.passed,
            "notices": self.notices,
            "details": self.details,
        }


@dataclass(frozen=True, slots=True)
class GateContext:
    """What gates look at."""

    environment: str
    candidate: Release
    candidate_bundle: Bundle
    current: Release | None
    current_bundle: Bundle | None
    allow_breaking: str | None = None


class Gate(Protocol):
    """One check a promotion must pass."""

    name: str

    def check(self, context: GateContext) -> GateResult:
        """Judge the candidate."""
        ...


class BundleGate:
    """The release's bundle is valid (it loaded, so it is; the counts are reported)."""

    name = "bundle"

    def check(self, context: GateContext) -> GateResult:
        """Always passes for a loaded bundle; the loader refused invalid ones."""
        bundle = context.candidate_bundle
        return GateResult(
            self.name,
            True,
            details={
                "agents": len(bundle.agents),
                "tools": len(bundle.tools),
                "prompts": len(bundle.prompts),
                "priced_models": len(bundle.pricing.models),
            },
        )


class ContractGate:
    """No breaking tool-contract change against what the environment runs."""

    name = "contracts"

    def check(self, context: GateContext) -> GateResult:
        """Diff every contract; breaking changes fail unless explicitly allowed."""
        from pilothouse.control.contracts.diff import diff_contracts

        if context.current_bundle is None:
            return GateResult(
                self.name,
                True,
                ["first release in this environment: nothing to compare contracts with"],
            )
        report = diff_contracts(context.current_bundle.tools, context.candidate_bundle.tools)
        details = report.to_dict(allowed_breaking=context.allow_breaking)
        if not report.breaking:
            return GateResult(self.name, True, details=details)
        if context.allow_breaking:
            return GateResult(
                self.name,
                True,
                [f"breaking contract changes allowed: {context.allow_breaking}"],
                details,
            )
        return GateResult(
            self.name,
            False,
            ["breaking contract changes; pass --allow-breaking REASON to promote anyway"],
            details,
        )


class PolicyLintGate:
    """Configuration that would leave a policy unenforceable, and risky choices."""

    name = "policy-lint"

    def check(self, context: GateContext) -> GateResult:
        """Fail on unenforceable ceilings; notice unbounded runs and uncapped side effects."""
        bundle = context.candidate_bundle
        failures: list[str] = []
        notices: list[str] = []
        for agent in bundle.agents.values():
            limits = agent.limits
            if limits.max_cost_usd is not None:
                unpriced = [
                    m for m in (agent.model, *agent.fallbacks) if bundle.pricing.price(m) is None
                ]
                if unpriced:
                    failures.append(
                        f"agent {agent.name}: max_cost_usd is set but "
                        f"{', '.join(unpriced)} has no price in pricing.yaml"
                    )
            if limits.deadline_s is None or limits.max_steps is None:
                notices.append(f"agent {agent.name}: runs without a deadline or step limit")
            for tool in agent.tools:
                contract = bundle.tools.get(tool)
                if (
                    contract is not None
                    and contract.side_effect
                    and (tool not in limits.max_tool_calls_per_tool)
                ):
                    notices.append(
                        f"agent {agent.name}: side-effecting tool {tool} has no per-run call cap"
                    )
        return GateResult(self.name, not failures, failures + notices)


class GoldenJourneyGate:
    """The release-quality suite (golden journeys); not built yet — says so."""

    name = "golden-journeys"

    def check(self, context: GateContext) -> GateResult:
        """Pass, with a notice that nothing was checked."""
        return GateResult(
            self.name,
            True,
            [
                "golden-journey gate not configured yet (the "
                "release-quality issue builds it); nothing checked"
            ],
        )


def default_gates() -> list[Gate]:
    """The gates every promotion runs, in order."""
    return [BundleGate(), ContractGate(), PolicyLintGate(), GoldenJourneyGate()]
