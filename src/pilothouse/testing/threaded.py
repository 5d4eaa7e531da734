"""Running an asyncio test server on its own event loop in a thread.

Synchronous tests (and benchmarks) need servers that live outside their own loop. A class
with ``async start()`` and ``async stop()`` gains ``start_in_thread()`` and
``stop_thread()`` by inheriting :class:`ThreadedServer`.
"""

from __future__ import annotations

import asyncio
import threading
from abc import ABC, abstractmethod
from typing import Any, Self


class ThreadedServer(ABC):
    """Adds ``start_in_thread``/``stop_thread`` to a server with async start and stop."""

    _loop: asyncio.AbstractEventLoop
    _thread: threading.Thread

    @abstractmethod
    async def start(self) -> Any:
        """Start serving on the running loop."""

    @abstractmethod
    async def stop(self) -> None:
        """Stop serving."""

    def start_in_thread(self) -> Self:
        """Run the server on its own event loop in a daemon thread."""
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self.start())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name=type(self).__name__, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop_thread(self) -> None:
        """Stop a server started with :meth:`start_in_thread`."""
        asyncio.run_coroutine_threadsafe(self.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
