"""Retries of one call: full jitter, only for retryable failures, within every budget.

:class:`RetryingAdapter` runs the attempts of one call through ``tenacity``:

* only a :class:`ToolFailure` with ``retryable=True`` is retried (timeouts, connection
  errors, 429 and 5xx); anything else ends the call at once;
* at most ``max_attempts`` attempts (``min(run, contract)``, fixed by the gateway);
* the wait before retry ``n`` (``n`` = 0 for the first retry) is full jitter,
  ``random.uniform(0, min(cap_s, base_s * 2**n))``, and never less than the failure's
  ``retry_after`` — a tool that says when to come back is believed;
* a tool asking for more than ``max_retry_after_s`` is not retried (the last failure is
  the result): waiting that long would hold the run hostage;
* each retry spends a token of the tool's :class:`RetryBucket`; an empty bucket ends the
  call with ``retry_budget_exhausted`` (the message names the last failure);
* a wait that would not end before the run's tool-time budget runs out ends the call
  with ``tool_time_budget_exhausted`` instead of sleeping in vain.

Every attempt carries the same ``idempotency_key`` (the call object is the same); the
wrapper sets ``call.attempt`` to the attempt's number before it starts, so after
:meth:`RetryingAdapter.invoke` returns or raises it holds the number of attempts made.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_random_exponential

from pilothouse.runtime.tools.base import ToolAdapter, ToolCall, ToolFailure
from pilothouse.runtime.tools.clock import Clock
from pilothouse.runtime.tools.retry_budget import RetryBucket


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long to wait between attempts.

    Attributes:
        base_s: The first retry's jitter window.
        cap_s: The largest jitter window.
        max_retry_after_s: The longest ``retry_after`` worth waiting for.
    """

    base_s: float = 0.2
    cap_s: float = 5.0
    max_retry_after_s: float = 30.0


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, ToolFailure) and exc.retryable


class RetryingAdapter:
    """Wraps an adapter; one ``invoke`` is one call, made of up to ``max_attempts`` attempts."""

    def __init__(
        self,
        inner: ToolAdapter,
        *,
        max_attempts: int,
        bucket: RetryBucket,
        clock: Clock,
        policy: RetryPolicy | None = None,
        time_left: Callable[[], float | None] | None = None,
    ) -> None:
        self._inner = inner
        self._max_attempts = max(1, max_attempts)
        self._bucket = bucket
        self._clock = clock
        self._policy = policy or RetryPolicy()
        self._time_left = time_left or (lambda: None)
        self._jitter = wait_random_exponential(
            multiplier=self._policy.base_s, max=self._policy.cap_s
        )

    async def invoke(self, call: ToolCall, timeout_s: float) -> Any:
        """Attempt the call until it succeeds, fails for good, or a budget says stop.

        The first attempt runs directly: most calls succeed at once, and building the
        retry machinery for them cost more than the rest of the gateway. Only a
        retryable failure brings in tenacity, which starts from that first outcome.
        """
        self._bucket.deposit()
        call.attempt = 1
        try:
            return await self._inner.invoke(call, timeout_s)
        except ToolFailure as failure:
            if not failure.retryable:
                raise
            return await self._retry(call, timeout_s, failure)

    async def _retry(self, call: ToolCall, timeout_s: float, first: ToolFailure) -> Any:
        """Attempts after a retryable first failure (tenacity counts that one too)."""
        verdict: list[ToolFailure] = []
        replayed: list[ToolFailure] = [first]

        async def attempt() -> Any:
            if replayed:
                raise replayed.pop()  # the outcome of attempt 1, already made
            call.attempt += 1
            return await self._inner.invoke(call, timeout_s)

        def stop(state: RetryCallState) -> bool:
            failure = _failure_of(state)
            reason = self._stop_reason(state, failure)
            if reason is not None:
                verdict.append(reason)
                return True
            return False

        def give_up(state: RetryCallState) -> Any:
            raise verdict[0] if verdict else _failure_of(state)

        retrying = AsyncRetrying(
            sleep=self._clock.sleep,
            stop=stop,
            wait=self._wait,
            retry=retry_if_exception(_retryable),
            retry_error_callback=give_up,
        )
        return await retrying(attempt)

    def _wait(self, state: RetryCallState) -> float:
        asked = _failure_of(state).retry_after or 0.0
        return max(float(self._jitter(state)), asked)

    def _stop_reason(self, state: RetryCallState, failure: ToolFailure) -> ToolFailure | None:
        """Why this call must not be retried now, or None to retry (spending a token)."""
        if state.attempt_number >= self._max_attempts:
            return failure
        if (failure.retry_after or 0.0) > self._policy.max_retry_after_s:
            return failure
        left = self._time_left()
        if left is not None and state.upcoming_sleep >= left:
            return ToolFailure(
                f"The run's tool time runs out before the next attempt could start "
                f"(last failure: {failure.code}: {failure.message})",
                retryable=False,
                code="tool_time_budget_exhausted",
            )
        if not self._bucket.try_spend():
            return ToolFailure(
                f"The tool's retry budget is spent; not retrying "
                f"(last failure: {failure.code}: {failure.message})",
                retryable=False,
                code="retry_budget_exhausted",
            )
        return None

    async def aclose(self) -> None:
        """Close the inner adapter."""
        await self._inner.aclose()


def _failure_of(state: RetryCallState) -> ToolFailure:
    outcome = state.outcome
    exc = outcome.exception() if outcome is not None else None
    if isinstance(exc, ToolFailure):
        return exc
    # Only ToolFailure reaches here: the inner chain is shielded, and anything else is not
    # retried (so tenacity re-raises it before asking stop or wait).
    raise RuntimeError("retry decision without a ToolFailure") from exc
