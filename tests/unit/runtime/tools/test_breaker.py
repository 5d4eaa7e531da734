"""The circuit breaker's states, driven by a manual clock."""

from __future__ import annotations

import asyncio

import pytest

from pilothouse.runtime.tools.base import ToolFailure
from pilothouse.runtime.tools.breaker import BreakerAdapter, BreakerPolicy, CircuitBreaker
from pilothouse.runtime.tools.clock import ManualClock

from .conftest import ScriptedAdapter, make_call

DOWN = ToolFailure("503", retryable=True, code="http_503")
REFUSED = ToolFailure("400", retryable=False, code="http_400")


def breaker(clock: ManualClock) -> CircuitBreaker:
    return CircuitBreaker(BreakerPolicy(failure_threshold=3, reset_timeout_s=30.0), clock)


def state(circuit: CircuitBreaker) -> str:
    """The state, read afresh (keeps type checkers from narrowing a changing property)."""
    return circuit.state


def test_opens_after_consecutive_retryable_failures_then_half_opens_once() -> None:
    clock = ManualClock()
    circuit = breaker(clock)
    for _ in range(3):
        assert circuit.admit()
        circuit.record_failure()
    assert state(circuit) == "open"
    assert not circuit.admit()
    clock.advance(29.9)
    assert not circuit.admit()
    clock.advance(0.2)
    assert circuit.admit()  # the one probe
    assert state(circuit) == "half_open"
    assert not circuit.admit()  # nobody else while it is out
    circuit.record_success()
    assert state(circuit) == "closed"
    assert circuit.admit()


def test_a_failed_probe_reopens_for_a_full_timeout() -> None:
    clock = ManualClock()
    circuit = breaker(clock)
    for _ in range(3):
        circuit.record_failure()
    clock.advance(30.0)
    assert circuit.admit()
    circuit.record_failure()
    assert state(circuit) == "open"
    assert circuit.retry_in() == pytest.approx(30.0)


def test_a_success_resets_the_consecutive_count() -> None:
    circuit = breaker(ManualClock())
    for _ in range(2):
        circuit.record_failure()
    circuit.record_success()
    for _ in range(2):
        circuit.record_failure()
    assert state(circuit) == "closed"


async def test_the_adapter_refuses_while_open_without_calling_the_tool() -> None:
    clock = ManualClock()
    inner = ScriptedAdapter(DOWN)
    guarded = BreakerAdapter(inner, breaker(clock))
    for _ in range(3):
        with pytest.raises(ToolFailure):
            await guarded.invoke(make_call("t"), 1.0)
    with pytest.raises(ToolFailure) as caught:
        await guarded.invoke(make_call("t"), 1.0)
    assert (caught.value.code, caught.value.retryable) == ("tool_unavailable", False)
    assert len(inner.seen) == 3


async def test_non_retryable_failures_do_not_open_the_circuit() -> None:
    circuit = breaker(ManualClock())
    guarded = BreakerAdapter(ScriptedAdapter(REFUSED), circuit)
    for _ in range(10):
        with pytest.raises(ToolFailure):
            await guarded.invoke(make_call("t"), 1.0)
    assert state(circuit) == "closed"


async def test_a_cancelled_probe_frees_the_probe_slot() -> None:
    clock = ManualClock()
    circuit = breaker(clock)
    for _ in range(3):
        circuit.record_failure()
    clock.advance(30.0)

    class Hanging(ScriptedAdapter):
        async def invoke(self, call: object, timeout_s: float) -> object:
            await asyncio.Event().wait()
            return None

    task = asyncio.create_task(BreakerAdapter(Hanging(None), circuit).invoke(make_call("t"), 1.0))
    await asyncio.sleep(0)
    assert not circuit.admit()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert circuit.admit()
