"""The bounds, checked before every step and before every batch of tool calls.

A bound that is reached is a :class:`LimitHit` — a signal that steers the loop to end the
run ``incomplete``, not an error. Its ``reason`` names the limit (it becomes
``incomplete_details.reason``) and ``message`` is what the final assistant message says.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from pilothouse.runtime.agent.state import RunState, call_signature


@dataclass(frozen=True, slots=True)
class LimitHit:
    """A bound the run reached."""

    reason: str
    message: str


def before_model_step(state: RunState, kill_reason: str | None) -> LimitHit | None:
    """Checks before a model call: kill switch, deadline, steps."""
    if kill_reason is not None:
        return LimitHit("kill_switch", f"the agent was stopped by an operator ({kill_reason})")
    deadline = state.deadline
    if deadline is not None and time.time() >= deadline:
        return LimitHit(
            "deadline_s", f"the run reached its deadline of {state.limits.deadline_s:g} s"
        )
    max_steps = state.limits.max_steps
    if max_steps is not None and state.step >= max_steps:
        return LimitHit("max_steps", f"the run reached its limit of {max_steps} model steps")
    return None


def before_tool_calls(state: RunState, calls: list[tuple[str, dict[str, Any]]]) -> LimitHit | None:
    """Checks before a batch of governed calls: totals, per tool, repeated identical calls.

    The counters are advanced only when the whole batch passes, so a refused batch leaves
    the state as it was.
    """
    limits = state.limits
    if limits.max_tool_calls is not None and state.tool_calls + len(calls) > limits.max_tool_calls:
        return LimitHit(
            "max_tool_calls", f"the run reached its limit of {limits.max_tool_calls} tool calls"
        )
    # The batch's own counts, on top of the run's (plain dicts: copying the run's
    # Counters for every batch cost more than the checks).
    per_tool: dict[str, int] = {}
    identical: dict[str, int] = {}
    for name, arguments in calls:
        count = per_tool[name] = per_tool.get(name, state.per_tool[name]) + 1
        cap = limits.max_tool_calls_per_tool.get(name)
        if cap is not None and count > cap:
            return LimitHit(
                "max_tool_calls_per_tool", f"the tool {name} reached its limit of {cap} calls"
            )
        signature = call_signature(name, arguments)
        repeats = identical[signature] = identical.get(signature, state.identical[signature]) + 1
        repeat = limits.max_identical_calls
        if repeat is not None and repeats > repeat:
            return LimitHit(
                "max_identical_calls",
                f"the tool {name} was requested with identical arguments more than {repeat} times",
            )
    state.tool_calls += len(calls)
    for name, count in per_tool.items():  # totals (Counter.update would add them)
        state.per_tool[name] = count
    for signature, repeats in identical.items():
        state.identical[signature] = repeats
    return None


def final_message(hit: LimitHit) -> str:
    """The assistant message that ends a run stopped by a bound."""
    return (
        f"I stopped before finishing: {hit.message} ({hit.reason}). "
        "The work done so far is above; ask again or raise the limit to continue."
    )
