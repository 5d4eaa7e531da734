"""Connections to one origin: keep-alive reuse under a limit, with a fair queue.

:class:`OriginPool` holds at most ``limit`` connections to one ``(scheme, host, port)``,
idle or in use. :meth:`~OriginPool.take_idle` hands out the most recently released
idle connection without awaiting anything (the hot path); connections that the peer
closed, or that idled longer than ``idle_timeout``, are dropped on the way. When every
connection is in use and the limit is reached, :meth:`~OriginPool.acquire` queues: a
released connection (or, if it was not reusable, the right to open a new one) goes to the
longest waiter first.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

from pilothouse.runtime.http.connection import Connection

Connector = Callable[[], Awaitable[Connection]]


class OriginPool:
    """The connections to one origin. See the module docstring.

    Args:
        loop: The loop every connection and waiter belongs to.
        connect: Opens a new connection to the origin.
        limit: Most connections at once, idle or in use.
        idle_timeout: Seconds an idle connection is kept.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        connect: Connector,
        *,
        limit: int,
        idle_timeout: float,
    ) -> None:
        self._loop = loop
        self._connect = connect
        self._limit = limit
        self._idle_timeout = idle_timeout
        self._idle: deque[Connection] = deque()
        self._waiters: deque[asyncio.Future[Connection | None]] = deque()
        self._all: set[Connection] = set()
        self._opened = 0

    @property
    def opened(self) -> int:
        """Connections held (idle, in use, or being opened)."""
        return self._opened

    def take_idle(self) -> Connection | None:
        """The freshest usable idle connection, or None; stale ones are closed."""
        idle = self._idle
        while idle:
            conn = idle.pop()
            if not conn.dead and self._loop.time() - conn.idle_since < self._idle_timeout:
                return conn
            self._discard(conn)
        return None

    async def acquire(self) -> Connection:
        """A connection: idle, new (under the limit), or the next one released to us."""
        conn = self.take_idle()
        if conn is not None:
            return conn
        if self._opened < self._limit:
            self._opened += 1
            return await self._open()
        waiter: asyncio.Future[Connection | None] = self._loop.create_future()
        self._waiters.append(waiter)
        try:
            granted = await waiter
        except BaseException:
            self._give_back(waiter)
            raise
        if granted is not None and not granted.dead:
            return granted
        if granted is not None:
            self._all.discard(granted)
            granted.close()
        return await self._open()  # our slot was counted by whoever granted it

    def release(self, conn: Connection, reusable: bool) -> None:
        """Return ``conn`` after an exchange; ``reusable`` when its response was read whole
        and the connection stays open."""
        if not reusable or conn.dead:
            self._discard(conn)
            return
        conn.idle_since = self._loop.time()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        self._idle.append(conn)
        oldest = self._idle[0]
        if oldest.dead or conn.idle_since - oldest.idle_since >= self._idle_timeout:
            self._discard(self._idle.popleft())

    def close(self) -> list[Connection]:
        """Close every connection (in-flight exchanges fail) and refuse the waiters;
        return the connections so that the caller can wait for them to close."""
        closing = list(self._all)
        for conn in closing:
            conn.abort()
        self._all.clear()
        self._idle.clear()
        self._opened = 0
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(RuntimeError("The HTTP client was closed."))
        return closing

    async def _open(self) -> Connection:
        """Open a connection in a slot already counted in ``_opened``."""
        try:
            conn = await self._connect()
        except BaseException:
            self._opened -= 1
            self._grant()
            raise
        self._all.add(conn)
        return conn

    def _discard(self, conn: Connection) -> None:
        conn.close()
        if conn in self._all:
            self._all.discard(conn)
            self._opened -= 1
            self._grant()

    def _grant(self) -> None:
        """Give the longest waiter the right to open a connection in a freed slot."""
        while self._waiters and self._opened < self._limit:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._opened += 1
                waiter.set_result(None)
                return

    def _give_back(self, waiter: asyncio.Future[Connection | None]) -> None:
        """A waiter gave up (cancelled or timed out): pass on what it was granted."""
        if not waiter.done() or waiter.cancelled():
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            return
        if waiter.exception() is not None:
            return
        granted = waiter.result()
        if granted is None:
            self._opened -= 1
            self._grant()
        else:
            self.release(granted, reusable=True)
