"""The cost of a decision, with the release of ``conftest`` (20 policies, 8 tools).

The engine sits before every tool call, so its cost is pinned here: the figure quoted
in :mod:`pilothouse.control.policy.engine` comes from this measurement. The bound
asserted is loose (the machine is shared and may be busy); it catches a regression of
an order of magnitude, such as re-parsing policies or the entity graph per request.
"""

from __future__ import annotations

import statistics
import time

from pilothouse.control.policy import Action, Context, Outcome, PolicyEngine, Resource
from tests.unit.control.policy.conftest import key

ROUNDS, CALLS = 5, 400
BOUND_US = 2000.0


def per_decision_us(engine: PolicyEngine, context: Context, outcome: Outcome) -> float:
    principal = key("key_speed", "invoke")
    refund = Resource.tool("refund")
    assert engine.authorize(principal, Action.CALL_TOOL, refund, context).outcome is outcome
    rounds = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(CALLS):
            engine.authorize(principal, Action.CALL_TOOL, refund, context)
        rounds.append((time.perf_counter() - start) / CALLS * 1e6)
    return statistics.median(rounds)


def test_a_decision_costs_well_under_a_millisecond(engine: PolicyEngine) -> None:
    arguments = {"amount_cents": 2500, "reason": "late delivery", "order": {"lines": [1, 2]}}
    allow = Context(environment="prod", agent="billing", arguments=arguments)
    deny = Context(environment="prod", agent="faq", arguments=arguments)
    approval = Context(environment="prod", agent="billing", arguments={"amount_cents": 20000})
    assert len(engine.source.policies) == 20
    for context, outcome in [
        (allow, Outcome.ALLOW),
        (deny, Outcome.DENY),
        (approval, Outcome.NEEDS_APPROVAL),  # two evaluations
    ]:
        cost = per_decision_us(engine, context, outcome)
        assert cost < BOUND_US, f"{outcome}: {cost:.0f} µs per decision"
