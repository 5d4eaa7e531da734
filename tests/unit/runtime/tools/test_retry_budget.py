"""The retry token bucket: deposits per call, refill per second, capped at burst."""

from __future__ import annotations

from pilothouse.control.agent import RetryBudget
from pilothouse.runtime.tools.clock import ManualClock
from pilothouse.runtime.tools.retry_budget import RetryBucket


def test_starts_full_and_each_retry_spends_one_token() -> None:
    bucket = RetryBucket(RetryBudget(ratio=0.2, per_second=0.0, burst=2.0), ManualClock())
    assert bucket.try_spend()
    assert bucket.try_spend()
    assert not bucket.try_spend()


def test_five_calls_earn_one_retry() -> None:
    bucket = RetryBucket(RetryBudget(ratio=0.2, per_second=0.0, burst=1.0), ManualClock())
    assert bucket.try_spend()
    for _ in range(4):
        bucket.deposit()
        assert not bucket.try_spend()
    bucket.deposit()
    assert bucket.try_spend()  # five deposits of 0.2, despite float rounding


def test_refills_over_time_up_to_burst() -> None:
    clock = ManualClock()
    bucket = RetryBucket(RetryBudget(ratio=0.0, per_second=1.0, burst=3.0), clock)
    for _ in range(3):
        assert bucket.try_spend()
    assert not bucket.try_spend()
    clock.advance(2.0)
    assert bucket.tokens == 2.0
    clock.advance(100.0)
    assert bucket.tokens == 3.0


def test_a_burst_below_one_disables_retries() -> None:
    bucket = RetryBucket(RetryBudget(ratio=0.2, per_second=1.0, burst=0.5), ManualClock())
    for _ in range(20):
        bucket.deposit()
    assert not bucket.try_spend()
