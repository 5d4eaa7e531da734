"""The gateway's clock: monotonic time and sleeping, behind one small interface.

Breakers (reset timeouts), retry budgets (refill), the run's tool-time budget and retry
waits all read time through a :class:`Clock`, so tests drive them with a manual clock
instead of real waiting. Per-attempt timeouts are the one exception: they are enforced by
the event loop (``asyncio.timeout``) because they must interrupt a real transport.
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
