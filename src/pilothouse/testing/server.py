"""A Pilothouse server on loopback in a background thread, for tests and benchmarks."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import uvicorn

from pilothouse.api.app import create_app
from pilothouse.settings import Settings
from pilothouse.wiring import Services, build_services


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerThread:
    """Runs the real ASGI app under uvicorn on its own event loop in a daemon thread.

    Args:
        settings: The server's settings (``port`` 0 picks a free port).
        services: A prebuilt object graph (built from ``settings`` when omitted).
    """

    def __init__(self, settings: Settings, services: Services | None = None) -> None:
        if settings.port == 0:
            settings = settings.model_copy(update={"port": free_port()})
        self.settings = settings
        self.services = services or build_services(settings)
        config = uvicorn.Config(
            create_app(settings, self.services),
            host=settings.host,
            port=settings.port,
            log_level="warning",
            access_log=False,
            lifespan="on",
            loop="asyncio",
        )
        self.server = uvicorn.Server(config)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name="pilothouse-server", daemon=True)

    @property
    def base_url(self) -> str:
        """The ``/v1`` base URL that OpenAI SDKs take."""
        return f"http://{self.settings.host}:{self.settings.port}/v1"

    @property
    def root_url(self) -> str:
        """The server's root URL."""
        return f"http://{self.settings.host}:{self.settings.port}"

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.server.serve())
        self.loop.close()

    def start(self) -> ServerThread:
        """Start serving; returns once the server accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("Pilothouse server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Shut down gracefully and wait for the thread."""
        self.server.should_exit = True
        self._thread.join(20)

    def flush_telemetry(self) -> None:
        """Finish the spans and metric updates the server has queued
        (``observability/backlog.py``), on its loop once what it is running now is done:
        a request answered before this call has its spans with the span processors after
        it."""

        async def flush() -> None:
            self.services.telemetry.flush()

        self.run(flush())

    def run(self, coro: object) -> object:
        """Run a coroutine on the server's loop (to reach the store from a test)."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)  # type: ignore[arg-type]
