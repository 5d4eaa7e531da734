"""A circuit breaker per tool: stop calling a tool that keeps failing, probe it later.

States::

    closed ──(N consecutive retryable failures)──▶ open
    open ──(reset timeout elapsed; the next attempt is the one probe)──▶ half-open
    half-open ──(probe succeeds)──▶ closed
    half-open ──(probe fails)──▶ open (the timeout starts again)

While open, :class:`BreakerAdapter` answers ``tool_unavailable`` at once, without touching
the tool, and the model hears that the tool is down rather than the client seeing a 5xx.
While half-open, exactly one attempt (the probe) is let through; concurrent attempts are
refused as if open until it settles.

Only retryable failures (timeouts, connection errors, 429 and 5xx) count towards opening.
A non-retryable failure (a 4xx, an invalid output) shows that the tool answers, so it
counts as a success for the breaker: it resets the consecutive count and closes a
half-open circuit. An attempt that is cancelled settles nothing and frees the probe slot.

Why not a library: ``purgatory`` 3.0.1 reads ``time.time()`` directly (no injectable or
monotonic clock, so half-opening cannot be tested without real waits or patching) and its
half-open state admits every concurrent caller rather than one probe; ``aiobreaker`` 1.2.0
(last released in 2020) mixes ``datetime.now()`` and ``datetime.utcnow()`` when deciding
to half-open, which is wrong outside UTC; ``pybreaker`` supports async only through
Tornado. The state machine is small, so it is written here against the gateway's
:class:`~pilothouse.runtime.tools.clock.Clock`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pilothouse.runtime.tools.base import ToolAdapter, ToolCall, ToolFailure
from pilothouse.runtime.tools.clock import Clock

State = Literal["closed", "open", "half_open"]


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """When a tool's circuit opens and how long it stays open.

    Attributes:
        failure_threshold: Consecutive retryable failures that open the circuit.
        reset_timeout_s: Seconds the circuit stays open before one probe is let through.
    """

    failure_threshold: int = 5
    reset_timeout_s: float = 30.0


class CircuitBreaker:
    """The state of one tool's circuit. Not thread-safe; one event loop owns it."""

    def __init__(self, policy: BreakerPolicy, clock: Clock) -> None:
        self._policy = policy
        self._clock = clock
        self._open = False
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False

    @property
    def state(self) -> State:
        """``closed``, ``open``, or ``half_open`` (open, timeout elapsed or probe out)."""
        if not self._open:
            return "closed"
        return "half_open" if self._probing or self.retry_in() <= 0 else "open"

    def retry_in(self) -> float:
        """Seconds until an open circuit lets a probe through (0 when it would now)."""
        if not self._open:
            return 0.0
        return max(0.0, self._opened_at + self._policy.reset_timeout_s - self._clock.now())

    def admit(self) -> bool:
        """Whether an attempt may go to the tool now; claims the probe when half-open."""
        if not self._open:
            return True
        if self._probing or self.retry_in() > 0:
            return False
        self._probing = True
        return True

    def record_success(self) -> None:
        """The tool answered: close the circuit and forget past failures."""
        self._open = False
        self._probing = False
        self._failures = 0

    def record_failure(self) -> None:
        """A retryable failure: count it, and open (or reopen) the circuit when due."""
        self._failures += 1
        if self._probing or self._failures >= self._policy.failure_threshold:
            self._open = True
            self._probing = False
            self._opened_at = self._clock.now()

    def release(self) -> None:
        """An admitted attempt ended without a verdict (cancelled): free the probe slot."""
        self._probing = False


class BreakerAdapter:
    """Wraps an adapter with a tool's :class:`CircuitBreaker`."""

    def __init__(self, inner: ToolAdapter, breaker: CircuitBreaker) -> None:
        self._inner = inner
        self._breaker = breaker

    async def invoke(self, call: ToolCall, timeout_s: float) -> Any:
        """One attempt, unless the circuit is open (then ``tool_unavailable`` at once)."""
        if not self._breaker.admit():
            wait = self._breaker.retry_in()
            raise ToolFailure(
                f"The tool '{call.name}' is unavailable after repeated failures; "
                f"it will be tried again in {wait:.0f} s.",
                retryable=False,
                code="tool_unavailable",
                retry_after=wait,
            )
        try:
            output = await self._inner.invoke(call, timeout_s)
        except ToolFailure as failure:
            if failure.retryable:
                self._breaker.record_failure()
            else:
                self._breaker.record_success()
            raise
        except BaseException:
            self._breaker.release()
            raise
        self._breaker.record_success()
        return output

    async def aclose(self) -> None:
        """Close the inner adapter."""
        await self._inner.aclose()
