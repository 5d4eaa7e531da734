"""A loopback HTTP/1.1 server for the client's tests that writes exactly the bytes a test
scripts: framings, resets and stalls that a well-behaved server never produces."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


@dataclass
class Received:
    """One request as the server read it."""

    head: bytes
    body: bytes
    connection: int  # 1-based number of the TCP connection it came on

    @property
    def line(self) -> str:
        """The request line."""
        return self.head.split(b"\r\n", 1)[0].decode()

    def header(self, name: str) -> list[str]:
        """Every value of header ``name``."""
        prefix = name.lower().encode() + b":"
        return [
            line.split(b":", 1)[1].strip().decode()
            for line in self.head.split(b"\r\n")[1:]
            if line.lower().startswith(prefix)
        ]


# Answers a request by writing to the writer; returns whether to keep the connection open.
Handler = Callable[[Received, asyncio.StreamWriter], Awaitable[bool]]


def reply(
    body: bytes = b"", status: str = "200 OK", headers: str = "", length: bool = True
) -> bytes:
    """A response with ``Content-Length`` (unless ``length`` is False) and ``headers``
    (``name: value\\r\\n`` lines)."""
    framing = f"content-length: {len(body)}\r\n" if length else ""
    return f"HTTP/1.1 {status}\r\n{framing}{headers}\r\n".encode() + body


async def answer_ok(request: Received, writer: asyncio.StreamWriter) -> bool:
    """Echo the request line as the body, keep-alive."""
    writer.write(reply(request.line.encode()))
    return True


async def stall(writer: asyncio.StreamWriter) -> None:
    """Hold the request until the connection closes (the client gives up or the server
    stops)."""
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()


def reset(writer: asyncio.StreamWriter) -> None:
    """Drop the connection with a TCP RST (SO_LINGER 0)."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@dataclass
class RawServer:
    """Serves ``handler`` on ``127.0.0.1`` (or ``host``); counts connections."""

    handler: Handler = answer_ok
    host: str = "127.0.0.1"
    tls: ssl.SSLContext | None = None
    received: list[Received] = field(default_factory=list)
    connections: int = 0
    open_now: int = 0
    most_open: int = 0
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    url: str = ""
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._serve, self.host, 0, ssl=self.tls)
        port = self._server.sockets[0].getsockname()[1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"{'https' if self.tls is not None else 'http'}://{host}:{port}"
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for _ in range(100):  # let handlers see the close and end, rather than be cancelled
            if not self.open_now:
                break
            await asyncio.sleep(0.01)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        self._writers.add(writer)
        try:
            while await self._one(reader, writer, number):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            self.open_now -= 1
            self._writers.discard(writer)
            writer.close()
            self.closed.set()

    async def _one(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, number: int
    ) -> bool:
        head = await reader.readuntil(b"\r\n\r\n")
        request = Received(head, b"", number)
        lengths = request.header("content-length")
        request.body = await reader.readexactly(int(lengths[0])) if lengths else b""
        self.received.append(request)
        keep = await self.handler(request, writer)
        if keep and not writer.is_closing():
            await writer.drain()
        return keep and not writer.is_closing()
