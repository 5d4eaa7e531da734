"""Responses in flight in this process, and the fan-out of their stream events.

A :class:`LiveRun` is registered while a response runs, so that ``GET`` sees it as
``in_progress``, ``cancel`` can stop its task, and ``GET ?stream=true`` can follow its
events live (from the first one) through the run's :class:`EventHub`. Finished runs are
served from the store instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any


class EventHub:
    """An append-only list of SSE frames that any number of readers follow."""

    def __init__(self) -> None:
        self.frames: list[tuple[int, bytes]] = []
        self.closed = False
        # Created by the first reader: most runs (foreground ones) never have one.
        self._changed: asyncio.Event | None = None

    def publish(self, sequence_number: int, frame: bytes) -> None:
        """Append one encoded frame."""
        self.frames.append((sequence_number, frame))
        if self._changed is not None:
            self._changed.set()

    def close(self) -> None:
        """No more frames will come."""
        self.closed = True
        if self._changed is not None:
            self._changed.set()

    async def follow(self, starting_after: int | None = None) -> AsyncIterator[bytes]:
        """Every frame from the start (or after a sequence number), then new ones live."""
        index = 0
        while True:
            while index < len(self.frames):
                sequence_number, frame = self.frames[index]
                index += 1
                if starting_after is None or sequence_number > starting_after:
                    yield frame
            if self.closed:
                return
            if self._changed is None:
                self._changed = asyncio.Event()
            self._changed.clear()
            await self._changed.wait()


@dataclass(slots=True)
class LiveRun:
    """One response running in this process; ``snapshot`` renders its current object
    (only when someone asks, so that registering a run costs nothing)."""

    tenant: str
    snapshot: Callable[[], dict[str, Any]]
    hub: EventHub = field(default_factory=EventHub)
    task: asyncio.Task[Any] | None = None


class LiveRegistry:
    """Responses running in this process, by id."""

    def __init__(self) -> None:
        self._runs: dict[str, LiveRun] = {}

    def add(self, response_id: str, run: LiveRun) -> None:
        """Register a run."""
        self._runs[response_id] = run

    def get(self, tenant: str, response_id: str) -> LiveRun | None:
        """The run, if it is in flight here and belongs to ``tenant``."""
        run = self._runs.get(response_id)
        return run if run is not None and run.tenant == tenant else None

    def remove(self, response_id: str) -> None:
        """Forget a finished run."""
        self._runs.pop(response_id, None)

    def background_count(self) -> int:
        """Background runs registered here (queued or running): the queue depth."""
        return sum(1 for run in self._runs.values() if run.task is not None)

    def __len__(self) -> int:
        return len(self._runs)

    async def cancel_all(self) -> None:
        """Cancel every task (shutdown)."""
        tasks = [run.task for run in self._runs.values() if run.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
