"""Retries: full jitter, retry_after honoured, bounded by attempts and budgets."""

from __future__ import annotations

from typing import Any

import pytest

from pilothouse.control.agent import RetryBudget
from pilothouse.runtime.tools.base import ToolFailure
from pilothouse.runtime.tools.clock import ManualClock
from pilothouse.runtime.tools.retry import RetryingAdapter, RetryPolicy
from pilothouse.runtime.tools.retry_budget import RetryBucket

from .conftest import ScriptedAdapter, make_call

DOWN = ToolFailure("down", retryable=True, code="http_503")


def retrying(
    inner: ScriptedAdapter,
    clock: ManualClock,
    *,
    max_attempts: int = 3,
    budget: RetryBudget | None = None,
    **kwargs: Any,
) -> RetryingAdapter:
    bucket = RetryBucket(budget or RetryBudget(), clock)
    return RetryingAdapter(inner, max_attempts=max_attempts, bucket=bucket, clock=clock, **kwargs)


async def test_retries_a_retryable_failure_with_the_same_key_every_time() -> None:
    clock = ManualClock()
    inner = ScriptedAdapter(DOWN, DOWN, {"ok": True})
    call = make_call("t")
    assert await retrying(inner, clock).invoke(call, 2.0) == {"ok": True}
    assert inner.seen == [("run_1:1:0", 1, 2.0), ("run_1:1:0", 2, 2.0), ("run_1:1:0", 3, 2.0)]
    assert call.attempt == 3


async def test_stops_after_max_attempts_with_the_last_failure() -> None:
    inner = ScriptedAdapter(DOWN)
    call = make_call("t")
    with pytest.raises(ToolFailure) as caught:
        await retrying(inner, ManualClock(), max_attempts=4).invoke(call, 1.0)
    assert caught.value is DOWN
    assert len(inner.seen) == 4 and call.attempt == 4


async def test_a_non_retryable_failure_is_not_retried() -> None:
    refused = ToolFailure("bad", retryable=False, code="http_400")
    inner = ScriptedAdapter(refused)
    with pytest.raises(ToolFailure) as caught:
        await retrying(inner, ManualClock()).invoke(make_call("t"), 1.0)
    assert caught.value is refused and len(inner.seen) == 1


async def test_waits_are_full_jitter_within_the_exponential_window() -> None:
    clock = ManualClock()
    policy = RetryPolicy(base_s=1.0, cap_s=3.0)
    inner = ScriptedAdapter(DOWN)
    with pytest.raises(ToolFailure):
        await retrying(inner, clock, max_attempts=5, policy=policy).invoke(make_call("t"), 1.0)
    windows = [1.0, 2.0, 3.0, 3.0]  # min(cap, base * 2**n)
    assert len(clock.sleeps) == 4
    assert all(0.0 <= s <= w for s, w in zip(clock.sleeps, windows, strict=True))


async def test_retry_after_is_a_floor_on_the_wait() -> None:
    clock = ManualClock()
    throttled = ToolFailure("slow down", retryable=True, code="http_429", retry_after=7.0)
    inner = ScriptedAdapter(throttled, {"ok": True})
    assert await retrying(inner, clock, policy=RetryPolicy(base_s=0.01)).invoke(
        make_call("t"), 1.0
    ) == {"ok": True}
    assert clock.sleeps and clock.sleeps[0] >= 7.0


async def test_a_retry_after_beyond_the_limit_is_not_waited_for() -> None:
    clock = ManualClock()
    throttled = ToolFailure("come back tomorrow", retryable=True, retry_after=86400.0)
    inner = ScriptedAdapter(throttled)
    with pytest.raises(ToolFailure) as caught:
        await retrying(inner, clock).invoke(make_call("t"), 1.0)
    assert caught.value is throttled and clock.sleeps == [] and len(inner.seen) == 1


async def test_an_empty_retry_bucket_ends_the_call_with_its_own_code() -> None:
    inner = ScriptedAdapter(DOWN)
    budget = RetryBudget(ratio=0.0, per_second=0.0, burst=1.0)
    with pytest.raises(ToolFailure) as caught:
        await retrying(inner, ManualClock(), budget=budget).invoke(make_call("t"), 1.0)
    assert caught.value.code == "retry_budget_exhausted"
    assert "http_503" in caught.value.message
    assert len(inner.seen) == 2  # the first attempt and the one retry the bucket paid for


async def test_a_wait_past_the_tool_time_budget_is_not_slept() -> None:
    clock = ManualClock()
    throttled = ToolFailure("later", retryable=True, code="http_503", retry_after=5.0)
    inner = ScriptedAdapter(throttled)
    adapter = retrying(inner, clock, time_left=lambda: 2.0)
    with pytest.raises(ToolFailure) as caught:
        await adapter.invoke(make_call("t"), 1.0)
    assert caught.value.code == "tool_time_budget_exhausted"
    assert clock.sleeps == [] and len(inner.seen) == 1
