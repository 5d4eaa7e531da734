"""Group commit: concurrent writers share one transaction.

Each caller submits a write (a coroutine function over a connection) and awaits it. One
drain task takes everything queued, runs it in a single transaction and commits once, then
resolves every caller. If the shared transaction fails, the batch is retried one write
per transaction, so a failing write (a constraint violation, say) fails alone.

On SQLite this is also the right concurrency model: one writer at a time, no lock
contention between connections; on PostgreSQL it still saves a round trip and a
commit per write.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

T = TypeVar("T")
Write = Callable[[AsyncConnection], Awaitable[Any]]


class GroupCommit:
    """Batches writes into shared transactions. See the module docstring."""

    def __init__(self, engine: AsyncEngine, max_batch: int = 256) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self._pending: list[tuple[Write, asyncio.Future[Any]]] = []
        self._drain_task: asyncio.Task[None] | None = None

    async def submit(self, write: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run ``write`` in the next batch and return its result once committed."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending.append((write, future))
        if self._drain_task is None or self._drain_task.done():
            self._drain_task = asyncio.create_task(self._drain())
        return await asyncio.shield(future)

    async def _drain(self) -> None:
        while self._pending:
            batch = self._pending[: self.max_batch]
            del self._pending[: self.max_batch]
            try:
                results = await self._run(batch)
            except Exception:
                await self._run_one_by_one(batch)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)

    async def _run(self, batch: list[tuple[Write, asyncio.Future[Any]]]) -> list[Any]:
        async with self.engine.begin() as conn:
            return [await write(conn) for write, _ in batch]

    async def _run_one_by_one(self, batch: list[tuple[Write, asyncio.Future[Any]]]) -> None:
        for write, future in batch:
            try:
                async with self.engine.begin() as conn:
                    result = await write(conn)
            except Exception as exc:
                if not future.done():
                    future.set_exception(exc)
            else:
                if not future.done():
                    future.set_result(result)

    async def close(self) -> None:
        """Wait for queued writes to commit."""
        if self._drain_task is not None:
            await asyncio.shield(self._drain_task)
