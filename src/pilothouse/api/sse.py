"""Sending a server-sent-event stream: frames that are ready together go out together.

Starlette's ``StreamingResponse`` sends every item of its iterator as its own ASGI message
(one socket write each). A relayed Responses stream produces its events in bursts — all
the events of one upstream network chunk at once — so :class:`SSEResponse` runs the frame
iterator as a producer task and the sender writes whatever has accumulated in one message.
Nothing waits for more: a frame is sent as soon as the sender is free.

A failure raised by the iterator (a :class:`PilothouseError`) becomes a final ``error``
event; a client that disconnects cancels the producer, whose ``finally`` blocks clean up.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import orjson
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from pilothouse.errors import PilothouseError

HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class SSEResponse(Response):
    """An ASGI response over already-encoded SSE frames. See the module docstring."""

    def __init__(self, frames: AsyncIterator[bytes]) -> None:
        super().__init__(status_code=200, media_type="text/event-stream")
        self.frames = frames
        self._ready: list[bytes] = []
        self._wake = asyncio.Event()
        self._done = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        producer = asyncio.create_task(self._produce())
        watcher = asyncio.create_task(_disconnected(receive))
        try:
            while True:
                if not self._ready and not self._done:
                    self._wake.clear()
                    waiting = asyncio.create_task(self._wake.wait())
                    await asyncio.wait({waiting, watcher}, return_when=asyncio.FIRST_COMPLETED)
                    waiting.cancel()
                    if watcher.done():
                        return
                if self._ready:
                    chunk = b"".join(self._ready)
                    self._ready.clear()
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                elif self._done:
                    break
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            watcher.cancel()
            if not producer.done():
                producer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await producer

    async def _produce(self) -> None:
        try:
            async for frame in self.frames:
                self._ready.append(frame)
                self._wake.set()
        except PilothouseError as exc:
            body = {"type": "error", "sequence_number": 0, "error": exc.to_wire()["error"]}
            self._ready.append(b"event: error\ndata: " + orjson.dumps(body) + b"\n\n")
        finally:
            self._done = True
            self._wake.set()


async def _disconnected(receive: Receive) -> None:
    """Return when the client goes away."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
