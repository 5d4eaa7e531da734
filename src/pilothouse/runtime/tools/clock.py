"""The gateway's clock: monotonic time and sleeping, behind one small interface.

Breakers (reset timeouts), retry budgets (refill), the run's tool-time budget and retry
waits all read time through a :class:`Clock`, so tests drive them with a
:class:`ManualClock` instead of real waiting. Per-attempt timeouts are the one exception:
they are enforced by the event loop (``asyncio.timeout``) because they must interrupt a
real transport.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    """Monotonic seconds and an awaitable sleep."""

    def now(self) -> float:
        """Seconds on a monotonic scale (only differences mean anything)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (a manual clock advances itself instead)."""
        ...


class SystemClock:
    """The real clock: ``time.monotonic`` and ``asyncio.sleep``."""

    def now(self) -> float:
        """Seconds from ``time.monotonic``."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """Sleep on the running event loop."""
        await asyncio.sleep(max(0.0, seconds))


class ManualClock:
    """A clock that moves only when told (or when slept on): for tests and replays.

    ``sleep`` advances the clock by the time asked and records it in :attr:`sleeps`, so a
    test can check a retry waited at least a tool's ``retry_after`` without waiting.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self.sleeps: list[float] = []

    def now(self) -> float:
        """The current manual time."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``."""
        self._now += seconds

    async def sleep(self, seconds: float) -> None:
        """Record the sleep, advance time, and yield to the loop once."""
        self.sleeps.append(seconds)
        self._now += max(0.0, seconds)
        await asyncio.sleep(0)
