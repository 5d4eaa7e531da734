"""One HTTP/1.1 connection: an asyncio protocol that sends a request and parses its
response with ``httptools``.

A connection carries one exchange at a time (no pipelining). The client writes the whole
request with :meth:`Connection.send`, then either waits for the complete response
(:meth:`Connection.wait_complete`, one wake-up per response; then
:meth:`Connection.take_body`) or, for streams, for the head
(:meth:`Connection.wait_head`) and then for body chunks (:meth:`Connection.next_chunk`).

Framing is ``httptools``' (Content-Length, chunked), except where the parser cannot know:

* a response to ``HEAD`` ends with its head (the parser would wait for the announced
  body, so the next exchange starts on a fresh parser);
* a body without Content-Length or chunked coding ends when the peer closes; that close
  completes it, and the connection is not reused;
* interim responses (1xx) are skipped.

Any other close or reset before the message is complete fails the exchange with
:class:`~.errors.ConnectionClosed`: a cut-off body is never delivered as a short one. The
request's deadline is a timer on the loop that aborts the connection and fails the
exchange with :class:`TimeoutError`, so waiting costs no task or cancellation.

For streams, reading pauses while more than :data:`HIGH_WATER` bytes wait for the
consumer and resumes once the consumer has taken them.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import httptools
from multidict import CIMultiDict

from pilothouse.runtime.http.errors import ConnectionClosed, ProtocolError

HIGH_WATER = 256 * 1024


class Connection(asyncio.Protocol):
    """A keep-alive connection to one origin. See the module docstring.

    Attributes:
        origin: ``scheme://host:port``, for errors.
        dead: The connection must not carry another exchange (peer closed, error, or
            not keep-alive).
        served: Exchanges completed on this connection.
        idle_since: ``loop.time()`` of the last release to the pool.
        received: Whether any byte of the current response arrived.
        status: The current response's status, once its head arrived.
        headers: The current response's headers, once its head arrived.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, origin: str) -> None:
        self.origin = origin
        self.dead = False
        self.served = 0
        self.idle_since = 0.0
        self.received = False
        self.status = 0
        self.headers: CIMultiDict[str] = CIMultiDict()
        self.closed: asyncio.Future[None] = loop.create_future()
        self._loop = loop
        self._transport: asyncio.Transport | None = None
        self._parser: Any = httptools.HttpResponseParser(self)
        self._fresh_parser = False
        self._busy = False
        self._head_only = False
        self._stream = False
        self._raw_headers: list[tuple[str, str]] = []
        self._interim = False
        self._head_done = False
        self._complete = False
        self._until_eof = False
        self._keep_alive = False
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._paused = False
        self._exc: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None

    # -- the exchange, as the client drives it ------------------------------------------

    def send(self, data: bytes, *, head_only: bool, deadline: float, stream: bool) -> None:
        """Start an exchange: write the request, arm the deadline."""
        if self._fresh_parser:
            self._parser = httptools.HttpResponseParser(self)
            self._fresh_parser = False
        self._busy = True
        self._head_only = head_only
        self._stream = stream
        self.received = False
        self._raw_headers = []
        self._head_done = self._complete = self._interim = self._until_eof = False
        self._keep_alive = False
        self._chunks = []
        self._buffered = 0
        self._exc = None
        self._timer = self._loop.call_at(deadline, self._on_deadline)
        assert self._transport is not None
        self._transport.write(data)

    async def wait_head(self) -> None:
        """Wait until the response's status and headers arrived."""
        while not self._head_done:
            await self._waiter_or_raise()

    async def wait_complete(self) -> None:
        """Wait for the whole response."""
        while not self._complete:
            await self._waiter_or_raise()

    def take_body(self) -> bytes:
        """The whole body as received (still encoded), once the response is complete."""
        chunks = self._chunks
        self._chunks = []
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def next_chunk(self) -> bytes | None:
        """The body bytes that arrived since the last call, or None at the end."""
        while not self._chunks:
            if self._complete:
                return None
            await self._waiter_or_raise()
        chunks = self._chunks
        self._chunks = []
        self._buffered = 0
        if self._paused and self._transport is not None:
            self._paused = False
            self._transport.resume_reading()
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def finish(self) -> bool:
        """End the exchange; return whether the connection may carry another one."""
        self._busy = False
        self._cancel_timer()
        self._chunks = []
        if not (self._complete and self._keep_alive) or self._exc is not None:
            self.dead = True
        if self.dead:
            return False
        self.served += 1
        return True

    def close(self) -> None:
        """Close the connection (the pool's ``opened`` count is the pool's business)."""
        self.dead = True
        self._cancel_timer()
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()

    def abort(self) -> None:
        """Drop the connection at once, without flushing what is unsent."""
        self.dead = True
        self._cancel_timer()
        if self._transport is not None:
            self._transport.abort()

    def _waiter_or_raise(self) -> asyncio.Future[None]:
        """A future that :meth:`_wake` resolves at the next event; or the exchange's
        failure, raised. (A plain function, not a coroutine: one frame less per wait.)"""
        if self._exc is not None:
            raise self._exc
        waiter = self._waiter = self._loop.create_future()
        return waiter

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def _fail(self, exc: BaseException) -> None:
        """Fail the current exchange (once) and stop using the connection."""
        self.dead = True
        if self._exc is None and not self._complete:
            self._exc = exc
        self._cancel_timer()
        self._wake()

    def _on_deadline(self) -> None:
        self._timer = None
        self._fail(TimeoutError(f"No complete response from {self.origin} in time."))
        self.abort()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _message_done(self) -> None:
        self._complete = True
        self._cancel_timer()
        self._wake()

    # -- asyncio.Protocol ---------------------------------------------------------------

    def attach(self, transport: asyncio.BaseTransport) -> None:
        """Take ``transport`` if ``connection_made`` has not run yet: uvloop may call it
        only after ``create_connection`` returned, and a request can be sent before."""
        if self._transport is None:
            self._transport = cast(asyncio.Transport, transport)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.attach(transport)

    def data_received(self, data: bytes) -> None:
        if not self._busy or self._complete:
            # Bytes nobody asked for: the connection's framing can no longer be trusted.
            self.close()
            return
        self.received = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(ProtocolError("The server switched protocols.", origin=self.origin))
            self.abort()
        except httptools.HttpParserError as exc:
            message = f"Unreadable HTTP response from {self.origin}: {exc}."
            self._fail(ProtocolError(message, origin=self.origin))
            self.abort()

    def eof_received(self) -> bool:
        self.dead = True
        self._end_of_stream(None)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.dead = True
        self._end_of_stream(exc)
        self._cancel_timer()
        if not self.closed.done():
            self.closed.set_result(None)

    def pause_writing(self) -> None:
        """Writes are not awaited: a request is written whole and the transport buffers it."""

    def resume_writing(self) -> None:
        """See :meth:`pause_writing`."""

    def _end_of_stream(self, exc: Exception | None) -> None:
        if not self._busy or self._complete or self._exc is not None:
            return
        if self._until_eof and self._head_done and exc is None:
            self._message_done()
            return
        what = "reset" if exc is not None else "closed"
        error = ConnectionClosed(
            f"{self.origin} {what} the connection before the whole response arrived.",
            origin=self.origin,
        )
        error.__cause__ = exc
        self._fail(error)

    # -- httptools callbacks ----------------------------------------------------------------

    def on_message_begin(self) -> None:
        pass

    def on_header(self, name: bytes, value: bytes) -> None:
        self._raw_headers.append(
            (name.decode("utf-8", "surrogateescape"), value.decode("utf-8", "surrogateescape"))
        )

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            self._interim = True  # 103 Early Hints and the like; the real answer follows
            self._raw_headers = []
            return
        self.status = status
        headers = self.headers = CIMultiDict(self._raw_headers)
        self._head_done = True
        if self._head_only:
            # The parser would wait for the announced body; the next exchange starts afresh.
            self._fresh_parser = True
            self._keep_alive = _keep_alive(self._parser.get_http_version(), headers)
            self._message_done()
            return
        if status not in (204, 304) and "content-length" not in headers:
            self._until_eof = "chunked" not in headers.get("transfer-encoding", "").lower()
        if self._stream:
            self._wake()

    def on_body(self, body: bytes) -> None:
        if self._complete:
            return
        self._chunks.append(body)
        if self._stream:
            self._buffered += len(body)
            if self._buffered > HIGH_WATER and not self._paused and self._transport is not None:
                self._paused = True
                self._transport.pause_reading()
            self._wake()

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            return
        if self._complete:
            return
        self._keep_alive = bool(self._parser.should_keep_alive())
        self._message_done()


def _keep_alive(version: str, headers: CIMultiDict[str]) -> bool:
    """Whether a response whose body the parser did not frame leaves the connection open."""
    connection = headers.get("connection", "").lower()
    if version == "1.1":
        return "close" not in connection
    return "keep-alive" in connection
