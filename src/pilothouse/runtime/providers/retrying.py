"""Retries of model calls: full jitter, only for transient failures, believing ``retry-after``.

:class:`RetryingProvider` wraps one provider and runs each call as up to ``max_attempts``
attempts through ``tenacity`` (the tool gateway's ``RetryingAdapter`` works the same way):

* only a transient :class:`~pilothouse.errors.UpstreamError` is retried — 408, 409, 429,
  5xx, timeouts and connection errors (see :mod:`.transient`); any other 4xx ends the call
  at once, and so does a breaker's ``provider_unavailable``, because waiting out an open
  circuit inside one call is what the breaker exists to avoid;
* the wait before retry ``n`` (``n`` = 0 for the first) is full jitter,
  ``uniform(0, min(cap_s, base_s * 2**n))``, and never less than the failure's
  ``retry_after``: an upstream that says when to come back is believed;
* an upstream asking for more than ``max_retry_after_s`` is not retried (its error, with
  its ``retry_after``, is raised as is): a run should not sit that long on one call, and a
  fallback or the client can decide better;
* ``stream`` is retried only until its first item arrives (see :mod:`.stream_start`);
  after that a failure is raised to the caller, who may already have relayed output.

Waiting goes through an injectable :class:`~pilothouse.runtime.tools.clock.Clock`, so
tests check the waits without sleeping.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_random_exponential

from pilothouse.errors import UpstreamError
from pilothouse.runtime.providers.base import ModelProvider, ModelRequest, ModelResult
from pilothouse.runtime.providers.stream_start import (
    StartedStream,
    Streamed,
    aclose_stream,
    start_stream,
)
from pilothouse.runtime.providers.transient import is_circuit_open, is_transient
from pilothouse.runtime.tools.clock import Clock, SystemClock

T = TypeVar("T")


def _retryable(exc: BaseException) -> bool:
    return is_transient(exc) and not is_circuit_open(exc)


class RetryingProvider:
    """Wraps a provider; one call is up to ``max_attempts`` attempts. See the module docstring.

    Args:
        inner: The provider to call.
        max_attempts: Attempts per call, the first included (at least 1).
        base_s: The first retry's jitter window, in seconds.
        cap_s: The largest jitter window, in seconds.
        max_retry_after_s: The longest ``retry_after`` worth waiting for.
        clock: Where waits happen (the event loop's real time by default).
    """

    def __init__(
        self,
        inner: ModelProvider,
        *,
        max_attempts: int = 3,
        base_s: float = 0.5,
        cap_s: float = 8.0,
        max_retry_after_s: float = 60.0,
        clock: Clock | None = None,
    ) -> None:
        self.name = inner.name
        self.inner = inner
        self.max_attempts = max(1, max_attempts)
        self.max_retry_after_s = max_retry_after_s
        self._clock = clock or SystemClock()
        self._jitter = wait_random_exponential(multiplier=base_s, max=cap_s)

    async def complete(self, request: ModelRequest) -> ModelResult:
        """The inner provider's result, after as many attempts as it takes and is allowed."""
        result: ModelResult = await self._attempts(self.inner.complete, request)
        return result

    async def stream(self, request: ModelRequest) -> AsyncIterator[Streamed]:
        """The inner provider's stream; attempts are repeated only before its first item."""
        started: StartedStream = await self._attempts(self._start, request)
        try:
            yield started.first
            async for item in started.rest:
                yield item
        finally:
            await aclose_stream(started.rest)

    async def count_input_tokens(self, request: ModelRequest) -> int:
        """The inner provider's count, retried like a call (counting has no side effects)."""
        count: int = await self._attempts(self.inner.count_input_tokens, request)
        return count

    async def aclose(self) -> None:
        """Close the inner provider."""
        await self.inner.aclose()

    async def _start(self, request: ModelRequest) -> StartedStream:
        return await start_stream(self.inner.stream(request))

    async def _attempts(
        self, call: Callable[[ModelRequest], Awaitable[T]], request: ModelRequest
    ) -> T:
        """``call(request)`` made once directly, and through tenacity only after a
        retryable failure: most calls succeed at once, and building the retry machinery
        for each of them cost a sizeable share of a plain request. Tenacity starts from
        that first outcome, so its stop and wait rules see every attempt."""
        try:
            return await call(request)
        except Exception as exc:
            if self.max_attempts == 1 or not _retryable(exc):
                raise
            first: list[BaseException] = [exc]

        async def attempt(request: ModelRequest) -> T:
            if first:
                raise first.pop()  # the outcome of attempt 1, already made
            return await call(request)

        result: T = await self._retrying()(attempt, request)
        return result

    def _retrying(self) -> AsyncRetrying:
        return AsyncRetrying(
            sleep=self._clock.sleep,
            stop=self._stop,
            wait=self._wait,
            retry=retry_if_exception(_retryable),
            reraise=True,
        )

    def _stop(self, state: RetryCallState) -> bool:
        if state.attempt_number >= self.max_attempts:
            return True
        return _retry_after(state) > self.max_retry_after_s

    def _wait(self, state: RetryCallState) -> float:
        return max(float(self._jitter(state)), _retry_after(state))


def _retry_after(state: RetryCallState) -> float:
    """The ``retry_after`` of the failed attempt (0 when the upstream named none)."""
    exc = state.outcome.exception() if state.outcome is not None else None
    if isinstance(exc, UpstreamError) and exc.retry_after is not None:
        return float(exc.retry_after)
    return 0.0
