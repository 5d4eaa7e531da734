"""The checks before a batch of governed tool calls (``limits.before_tool_calls``)."""

from __future__ import annotations

from typing import Any

from pilothouse.control.agent import AgentSpec, Limits
from pilothouse.runtime.agent.limits import before_tool_calls
from pilothouse.runtime.agent.state import RunState, call_signature


def _state(**limits: Any) -> RunState:
    return RunState(
        run_id="resp_1",
        tenant="t",
        agent=AgentSpec.model_validate({"name": "desk", "model": "m"}),
        limits=Limits(**limits),
        tools={},
        instructions=None,
        history=[],
    )


def test_accepted_batches_advance_the_run_totals() -> None:
    state = _state(max_tool_calls_per_tool={"kb": 3}, max_identical_calls=2)

    assert before_tool_calls(state, [("kb", {"q": "a"}), ("kb", {"q": "b"})]) is None
    assert before_tool_calls(state, [("kb", {"q": "a"}), ("ticket", {"id": 1})]) is None

    assert state.tool_calls == 4
    assert state.per_tool == {"kb": 3, "ticket": 1}
    assert state.identical[call_signature("kb", {"q": "a"})] == 2
    assert state.identical[call_signature("kb", {"q": "b"})] == 1


def test_a_batch_over_a_per_tool_cap_is_refused_and_changes_nothing() -> None:
    state = _state(max_tool_calls_per_tool={"kb": 2})
    assert before_tool_calls(state, [("kb", {"q": "a"})]) is None

    hit = before_tool_calls(state, [("ticket", {"id": 1}), ("kb", {"q": "b"}), ("kb", {"q": "c"})])

    assert hit is not None and hit.reason == "max_tool_calls_per_tool"
    assert (state.tool_calls, dict(state.per_tool)) == (1, {"kb": 1})
    assert dict(state.identical) == {call_signature("kb", {"q": "a"}): 1}


def test_identical_calls_count_across_batches_and_within_one() -> None:
    state = _state(max_identical_calls=2)
    assert before_tool_calls(state, [("kb", {"q": "a"})]) is None

    hit = before_tool_calls(state, [("kb", {"q": "a"}), ("kb", {"q": "a"})])

    assert hit is not None and hit.reason == "max_identical_calls"
    assert state.identical[call_signature("kb", {"q": "a"})] == 1
    assert before_tool_calls(state, [("kb", {"q": "a"})]) is None
    assert state.identical[call_signature("kb", {"q": "a"})] == 2


def test_the_total_cap_refuses_the_whole_batch() -> None:
    state = _state(max_tool_calls=2)

    hit = before_tool_calls(state, [("kb", {"q": "a"}), ("kb", {"q": "b"}), ("kb", {"q": "c"})])

    assert hit is not None and hit.reason == "max_tool_calls"
    assert state.tool_calls == 0 and not state.per_tool
