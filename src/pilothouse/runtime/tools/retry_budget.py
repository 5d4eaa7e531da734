"""A retry budget per tool: retries are a small share of calls, so they cannot storm.

When a tool is down, every call failing and retrying multiplies the load on it exactly
when it can least take it. A :class:`RetryBucket` is a token bucket that bounds that:

* it starts full, at ``burst`` tokens, so a healthy tool's occasional blip is retried;
* each call's first attempt deposits ``ratio`` tokens (0.2 by default);
* tokens also refill at ``per_second``; the bucket never holds more than ``burst``;
* each retry spends one token; with less than one token left, the call is not retried.

So over any stretch of time ``t`` with ``n`` calls, a tool is retried at most
``burst + ratio·n + per_second·t`` times — 20 % of its calls plus one a second, beyond the
initial burst. ``burst`` below 1 disables retries. The settings come from an agent's
``Limits.retry_budget`` (:class:`~pilothouse.control.agent.RetryBudget`).

A call stopped by an empty bucket ends with the error code ``retry_budget_exhausted``
(not the last failure's code), and its message names the last failure, so the journal
tells a budget stop from a tool's own error; see
:class:`~pilothouse.runtime.tools.retry.RetryingAdapter`.
"""

from __future__ import annotations

from pilothouse.control.agent import RetryBudget
from pilothouse.runtime.tools.clock import Clock

# Five deposits of 0.2 add up to 0.9999999999999999: tolerate float rounding.
_EPSILON = 1e-9


class RetryBucket:
    """The token bucket of one tool. Not thread-safe; one event loop owns it."""

    def __init__(self, budget: RetryBudget, clock: Clock) -> None:
        self._budget = budget
        self._clock = clock
        self._tokens = budget.burst
        self._updated = clock.now()

    @property
    def tokens(self) -> float:
        """Tokens available now (after refill)."""
        self._refill()
        return self._tokens

    def deposit(self) -> None:
        """A call's first attempt: add ``ratio`` tokens (up to ``burst``)."""
        self._refill()
        self._tokens = min(self._budget.burst, self._tokens + self._budget.ratio)

    def try_spend(self) -> bool:
        """Take one token for a retry; False (and nothing taken) when fewer than one."""
        self._refill()
        if self._tokens < 1.0 - _EPSILON:
            return False
        self._tokens = max(0.0, self._tokens - 1.0)
        return True

    def _refill(self) -> None:
        now = self._clock.now()
        elapsed = max(0.0, now - self._updated)
        self._updated = now
        self._tokens = min(self._budget.burst, self._tokens + elapsed * self._budget.per_second)
