"""A value read from the store and kept fresh without making requests wait for it.

Kill switches and a tenant's budget limits are read from the store, cached for about a
second, and consulted on every request or step. Re-reading them on the request path made
one request a second pay a store read (on SQLite, a hop to a reader thread and back:
0.3-1 ms at concurrency 1, against an agent run's 2-5 ms of own time), which shows in the
tail. A :class:`Refreshed` value is therefore re-read in the background once it is half
``refresh_s`` old: while traffic flows, callers get the value they had until the new one
arrives, a millisecond or so later, and never wait.

The bound is kept as before: a value is never answered once it is ``refresh_s`` old (its
age counted from the start of the read that produced it). After an idle spell, or while
re-reads fail, the caller waits for a fresh read, so a change made elsewhere (a kill switch
engaged on another replica) is seen within ``refresh_s``. :meth:`Refreshed.reload` reads now
and waits (what a change made through this process uses), and a read begun earlier never
replaces the value of one begun later.

A failed background read keeps the last value and is logged; a failed read that a caller
waits for raises to that caller, as a read on the request path always did.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)


class Refreshed(Generic[T]):
    """One value, read by ``read`` and re-read in the background (see the module docstring).

    Args:
        read: Reads the value from the store.
        refresh_s: The oldest a value may be when it is answered; re-reads start in the
            background at half that age.
        what: Names the value in the log when a background read fails.
        clock: Monotonic seconds.
    """

    def __init__(
        self,
        read: Callable[[], Awaitable[T]],
        refresh_s: float,
        what: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read
        self.refresh_s = refresh_s
        self._what = what
        self._clock = clock
        self._value: T | None = None
        self._value_at = float("-inf")  # when the read whose value is in force began
        self._tried_at = float("-inf")  # when the last read began
        self._reading: asyncio.Task[None] | None = None
        self._started = 0  # reads begun
        self._applied = 0  # the latest-begun read whose value is in force

    async def get(self) -> T:
        """The value: a fresh read waited for when there is none younger than
        ``refresh_s``, else the last one read (a re-read starts in the background when
        it is half that old)."""
        now = self._clock()
        if now - self._value_at >= self.refresh_s:
            return await self.reload()
        if now - self._tried_at >= self.refresh_s / 2 and not self._busy():  # one at a time
            self._reading = asyncio.get_running_loop().create_task(self._reread())
        return self._value  # type: ignore[return-value]

    def current(self) -> T | None:
        """The last value read, without reading (None before the first read)."""
        return self._value

    async def reload(self) -> T:
        """Read now and wait for it."""
        await self._take()
        return self._value  # type: ignore[return-value]  # ours, or one begun later

    def _busy(self) -> bool:
        """Whether a re-read is under way (one begun on a loop since closed is not)."""
        reading = self._reading
        return reading is not None and not reading.done() and not reading.get_loop().is_closed()

    async def _take(self) -> None:
        """One read; its value is kept unless a read begun later was kept first."""
        self._started += 1
        number, began = self._started, self._clock()
        self._tried_at = began
        value = await self._read()
        if number > self._applied:
            self._value, self._value_at, self._applied = value, began, number

    async def _reread(self) -> None:
        try:
            await self._take()
        except Exception:
            log.warning("re-reading %s failed; the last value stays in force", self._what)
