"""A value read from the store and kept fresh without making requests wait for it.

Kill switches and a tenant's budget limits are read from the store, cached for about a
second, and consulted on every request or step. Re-reading them on the request path made
one request a second pay a store read (on SQLite, a hop to a reader thread and back:
0.3-1 ms at concurrency 1, against an agent run's 2-5 ms of own time), which shows in the
tail. A :class:`Refreshed` value is therefore read once, waited for, and from then on
re-read in the background when it is older than ``refresh_s``: callers get the value they
had until the new one arrives, a millisecond or so later. A change made elsewhere is seen
within ``refresh_s`` plus one read, as before; :meth:`Refreshed.reload` reads now and waits
(what a change made through this process uses).

A failed background read keeps the last value and is logged; the next try comes
``refresh_s`` later. A failed first read (or reload) raises to its caller, as a read on the
request path always did.
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
        refresh_s: How old the value may get before a re-read starts.
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
        self._known = False
        self._read_at = 0.0
        self._reading: asyncio.Task[None] | None = None
        self._started = 0  # reads begun
        self._applied = 0  # the latest-begun read whose value is in force

    async def get(self) -> T:
        """The value: read and waited for the first time, then the last one read (a
        stale value starts a re-read in the background)."""
        if not self._known:
            return await self.reload()
        if self._clock() - self._read_at >= self.refresh_s and not self._busy():
            self._read_at = self._clock()  # one re-read at a time, and none for refresh_s
            self._reading = asyncio.get_running_loop().create_task(self._reread())
        return self._value  # type: ignore[return-value]

    def _busy(self) -> bool:
        """Whether a re-read is under way (one begun on a loop since closed is not)."""
        reading = self._reading
        return reading is not None and not reading.done() and not reading.get_loop().is_closed()

    def current(self) -> T | None:
        """The last value read, without reading (None before the first read)."""
        return self._value

    async def reload(self) -> T:
        """Read now and wait for it."""
        self._read_at = self._clock()
        await self._take()
        self._known = True
        return self._value  # type: ignore[return-value]  # ours, or one begun later

    async def _take(self) -> T:
        """One read; its value is kept unless a read begun later was kept first (so a
        background read that started before a reload never undoes it)."""
        self._started += 1
        number = self._started
        value = await self._read()
        if number > self._applied:
            self._value, self._applied = value, number
        return value

    async def _reread(self) -> None:
        try:
            await self._take()
        except Exception:
            log.warning("re-reading %s failed; the last value stays in force", self._what)
        finally:
            self._reading = None
