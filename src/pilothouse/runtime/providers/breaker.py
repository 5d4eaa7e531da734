"""A circuit breaker per provider: stop calling an upstream that keeps failing, probe it later.

:class:`BreakerProvider` puts one provider behind the tool gateway's
:class:`~pilothouse.runtime.tools.breaker.CircuitBreaker` (the same state machine, the
same injectable clock)::

    closed ──(N consecutive transient failures)──▶ open
    open ──(reset timeout elapsed; the next call is the one probe)──▶ half-open
    half-open ──(probe succeeds)──▶ closed
    half-open ──(probe fails)──▶ open (the timeout starts again)

While open, every call fails at once with ``UpstreamError(503, "provider_unavailable")``
whose ``retry_after`` is the time left until the probe, and the upstream is not touched:
a fallback chain moves on without waiting for a timeout, and a client sees when to come
back. While half-open, one call is let through and concurrent ones are refused as if open.

Only transient failures count (see :mod:`.transient`): a 4xx shows the upstream answers,
so it counts as a success — it resets the count and closes a half-open circuit. A call
that ends without a verdict (cancelled, or a stream its consumer abandoned) frees the
probe slot and changes nothing else. A stream settles when its result arrives or when it
fails, so a stream cut off mid-way by a dropped connection counts as a failure.

Token counting is not a model call: it neither consults nor moves the circuit.

Wrap order: ``RetryingProvider(BreakerProvider(p))`` (as the tool gateway does), so each
attempt is one sample for the breaker and an open circuit ends the retries at once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from pilothouse.errors import UpstreamError
from pilothouse.runtime.providers.base import ModelProvider, ModelRequest, ModelResult
from pilothouse.runtime.providers.stream_start import Streamed, aclose_stream
from pilothouse.runtime.providers.transient import PROVIDER_UNAVAILABLE, is_transient
from pilothouse.runtime.tools.breaker import BreakerPolicy, CircuitBreaker, State
from pilothouse.runtime.tools.clock import Clock, SystemClock


class BreakerProvider:
    """Wraps a provider with its own circuit. See the module docstring.

    Args:
        inner: The provider to protect.
        failure_threshold: Consecutive transient failures that open the circuit.
        reset_timeout_s: Seconds the circuit stays open before one probe is let through.
        clock: The time source for the reset timeout (monotonic real time by default).
    """

    def __init__(
        self,
        inner: ModelProvider,
        *,
        failure_threshold: int = 5,
        reset_timeout_s: float = 30.0,
        clock: Clock | None = None,
    ) -> None:
        self.name = inner.name
        self.inner = inner
        self.breaker = CircuitBreaker(
            BreakerPolicy(failure_threshold, reset_timeout_s), clock or SystemClock()
        )

    @property
    def state(self) -> State:
        """``closed``, ``open`` or ``half_open``."""
        return self.breaker.state

    async def complete(self, request: ModelRequest) -> ModelResult:
        """One call, unless the circuit is open (then ``provider_unavailable`` at once)."""
        self._admit()
        try:
            result = await self.inner.complete(request)
        except BaseException as exc:
            self._settle(exc)
            raise
        self.breaker.record_success()
        return result

    async def stream(self, request: ModelRequest) -> AsyncIterator[Streamed]:
        """One stream, unless the circuit is open; it settles when the result arrives."""
        self._admit()
        events = self.inner.stream(request)
        settled = False
        try:
            async for item in events:
                if isinstance(item, ModelResult):
                    self.breaker.record_success()
                    settled = True
                yield item
        except BaseException as exc:
            if not settled:
                self._settle(exc)
                settled = True
            raise
        finally:
            if not settled:
                self.breaker.release()
            await aclose_stream(events)

    async def count_input_tokens(self, request: ModelRequest) -> int:
        """The inner provider's count; the circuit is neither consulted nor changed."""
        return await self.inner.count_input_tokens(request)

    async def aclose(self) -> None:
        """Close the inner provider."""
        await self.inner.aclose()

    def _admit(self) -> None:
        if self.breaker.admit():
            return
        wait = self.breaker.retry_in()
        raise UpstreamError(
            f"The model provider '{self.name}' is unavailable after repeated failures; "
            f"it will be tried again in {wait:.0f} s.",
            status=503,
            code=PROVIDER_UNAVAILABLE,
            retry_after=wait,
        )

    def _settle(self, exc: BaseException) -> None:
        """Record what a failed call says about the upstream."""
        if is_transient(exc):
            self.breaker.record_failure()
        elif isinstance(exc, UpstreamError):
            self.breaker.record_success()
        else:
            self.breaker.release()
