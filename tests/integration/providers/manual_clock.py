"""A clock that moves only when told or slept on, for breaker and retry tests.

The same shape as the tool gateway's ``ManualClock`` (``now``, ``advance``, ``sleep``
recording :attr:`sleeps`); it lives here until that one is on this branch.
"""

from __future__ import annotations

import asyncio


class ManualClock:
    """Manual monotonic time; ``sleep`` records the wait and advances instead of waiting."""

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
