"""The HTTP/1.1 client of Pilothouse's outbound calls (model providers, HTTP tools).

It exists for CPU: a model call and a tool call are the hot path of every run, and a
keep-alive connection driven by an asyncio protocol and ``httptools`` costs a fraction of
aiohttp's client per request (``bench/http_client.py``). It does what the call sites need
and no more: no redirects, cookies, proxies or environment settings.

* **Pooling.** One :class:`~.pool.OriginPool` per ``(scheme, host, port)``, at most
  ``limit_per_origin`` connections, kept alive ``idle_timeout_s`` seconds; waiters queue
  fairly. A connection is reused only after its response was read whole.
* **Requests.** ``Host``, ``Accept-Encoding: gzip, deflate`` and ``User-Agent:
  pilothouse/<version>`` are added unless given. ``Content-Length`` is always ours, from
  the body (``0`` for a POST, PUT or PATCH without one); a given ``Content-Length`` or
  ``Transfer-Encoding`` is dropped, since a wrong one would desynchronise the connection.
  ``params`` are appended to the URL's own query, as aiohttp's are. Header values holding
  CR or LF are refused (``ValueError``).
* **Deadlines.** ``timeout_s`` bounds the whole request (waiting for a connection, sending,
  receiving; for a stream, until the body ends or the block is left); ``connect_timeout_s``
  bounds getting a connection. Both raise :class:`TimeoutError`.
* **A stale keep-alive connection** (the peer closed it while idle, and the close crossed
  the request) is retried once on a new connection, only when not a byte of the answer
  came back, and only for an idempotent method (aiohttp does the same) or for any request
  of a client made with ``replay_stale``: the model providers', since a model call has no
  effect but its cost, and the retry that would follow instead waits out the connection
  error's ``retry_after``. Servers close idle connections after a few seconds (uvicorn and
  Node after 5), so under sparse traffic the race is real. Tool calls are not resent here
  even though they carry an idempotency key: the gateway decides their retries and
  journals every attempt.

Errors are the tree in :mod:`.errors`.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from types import TracebackType

from yarl import URL, Query

from pilothouse import __version__
from pilothouse.runtime.http.connection import Connection
from pilothouse.runtime.http.errors import ConnectError, ConnectionClosed, InvalidURL, TLSError
from pilothouse.runtime.http.pool import OriginPool
from pilothouse.runtime.http.response import Response, StreamingResponse, decode_body

OriginKey = tuple[str, str, int]

_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_OURS = frozenset({"host", "content-length", "transfer-encoding", "accept-encoding", "user-agent"})


class HttpClient:
    """Sends HTTP/1.1 requests over pooled keep-alive connections. See the module docstring.

    Bound to the event loop it first runs on, like any asyncio client; closed by
    :meth:`aclose` (also as an async context manager).

    Args:
        limit_per_origin: Most connections to one origin at once.
        timeout_s: Default total seconds per request (a request's ``timeout_s`` overrides).
        connect_timeout_s: Seconds to get a connection (queueing for one included).
        idle_timeout_s: Seconds an idle keep-alive connection is kept.
        ssl_context: TLS settings for ``https``; ``ssl.create_default_context()`` if None.
        user_agent: The ``User-Agent`` sent unless a request gives its own.
        replay_stale: Whether any request may be sent again on a stale connection, not
            only those of idempotent methods (a client for model calls, which have no
            effect but their cost).
    """

    def __init__(
        self,
        *,
        limit_per_origin: int = 100,
        timeout_s: float = 300.0,
        connect_timeout_s: float = 10.0,
        idle_timeout_s: float = 15.0,
        ssl_context: ssl.SSLContext | None = None,
        user_agent: str = f"pilothouse/{__version__}",
        replay_stale: bool = False,
    ) -> None:
        self._limit = limit_per_origin
        self._timeout = timeout_s
        self._connect_timeout = connect_timeout_s
        self._idle_timeout = idle_timeout_s
        self._ssl_context = ssl_context
        self._user_agent = user_agent
        self._replay = replay_stale
        self._pools: dict[OriginKey, OriginPool] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` was called."""
        return self._closed

    async def request(
        self,
        method: str,
        url: URL | str,
        *,
        params: Query = None,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        timeout_s: float | None = None,
    ) -> Response:
        """Send one request and read its response whole.

        Raises:
            TimeoutError: The deadline passed.
            HTTPClientError: See :mod:`.errors`.
        """
        request = _Request(method, url, params, headers, body, self._user_agent, self._replay)
        pool, conn = await self._start(request, timeout_s, stream=False)
        raw = conn.take_body()
        status, response_headers = conn.status, conn.headers
        pool.release(conn, conn.finish())
        return Response(status, response_headers, decode_body(response_headers, raw, conn.origin))

    def stream(
        self,
        method: str,
        url: URL | str,
        *,
        params: Query = None,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        timeout_s: float | None = None,
    ) -> StreamContext:
        """An async context manager that sends one request and yields a
        :class:`~.response.StreamingResponse` once its head arrived. Leaving the block
        returns the connection to the pool when the body was read to its end, and closes
        it otherwise."""
        request = _Request(method, url, params, headers, body, self._user_agent, self._replay)
        return StreamContext(self, request, timeout_s)

    async def aclose(self) -> None:
        """Close every connection (exchanges in flight fail) and refuse further requests."""
        self._closed = True
        closing = [conn.closed for pool in self._pools.values() for conn in pool.close()]
        self._pools.clear()
        pending = [waiter for waiter in closing if not waiter.done()]
        if pending:
            await asyncio.wait(pending, timeout=1.0)

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _start(
        self, request: _Request, timeout_s: float | None, *, stream: bool
    ) -> tuple[OriginPool, Connection]:
        """Send ``request`` on a pooled connection and wait for the head (``stream``) or
        the whole response; retry a stale connection once (see the module docstring)."""
        loop = self._bind()
        deadline = loop.time() + (self._timeout if timeout_s is None else timeout_s)
        pool = self._pools.get(request.key) or self._new_pool(request)
        retried = False
        while True:
            conn = pool.take_idle() or await self._acquire(pool, deadline)
            reused = conn.served > 0
            conn.send(request.data, head_only=request.head_only, deadline=deadline, stream=stream)
            try:
                await (conn.wait_head() if stream else conn.wait_complete())
            except ConnectionClosed:
                pool.release(conn, conn.finish())
                if retried or not reused or conn.received or not request.resendable:
                    raise
                retried = True
                continue
            except BaseException:
                pool.release(conn, conn.finish())
                raise
            return pool, conn

    async def _acquire(self, pool: OriginPool, deadline: float) -> Connection:
        loop = self._bind()
        async with asyncio.timeout_at(min(deadline, loop.time() + self._connect_timeout)):
            return await pool.acquire()

    def _bind(self) -> asyncio.AbstractEventLoop:
        if self._closed:
            raise RuntimeError("The HTTP client is closed.")
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop:
            raise RuntimeError("The HTTP client is bound to another event loop.")
        return loop

    def _new_pool(self, request: _Request) -> OriginPool:
        scheme, host, port = request.key
        origin = f"{scheme}://{request.url.host_port_subcomponent}"
        tls = self._tls() if scheme == "https" else None
        loop = self._bind()

        async def connect() -> Connection:
            return await _connect(loop, origin, host, port, tls)

        pool = OriginPool(loop, connect, limit=self._limit, idle_timeout=self._idle_timeout)
        self._pools[request.key] = pool
        return pool

    def _tls(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()
        return self._ssl_context


class StreamContext:
    """What :meth:`HttpClient.stream` returns; see there."""

    def __init__(self, client: HttpClient, request: _Request, timeout_s: float | None) -> None:
        self._client = client
        self._request = request
        self._timeout_s = timeout_s
        self._held: tuple[OriginPool, Connection] | None = None
        self._response: StreamingResponse | None = None

    async def __aenter__(self) -> StreamingResponse:
        self._held = await self._client._start(self._request, self._timeout_s, stream=True)
        self._response = StreamingResponse(self._held[1])
        return self._response

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._held is not None:
            pool, conn = self._held
            self._held = None
            if self._response is not None:
                self._response.detach()
            pool.release(conn, conn.finish())


class _Request:
    """A request made ready to send: its origin and its bytes on the wire."""

    __slots__ = ("data", "head_only", "key", "resendable", "url")

    def __init__(
        self,
        method: str,
        url: URL | str,
        params: Query,
        headers: Mapping[str, str] | None,
        body: bytes | None,
        user_agent: str,
        replay_stale: bool,
    ) -> None:
        if isinstance(url, str):
            url = URL(url)
        if params:
            url = url.extend_query(params)
        scheme = url.scheme
        if scheme not in ("http", "https") or not url.raw_host or url.port is None:
            shown = url.with_query(None) if url.absolute else url
            raise InvalidURL(f"Not an absolute http(s) URL: {shown}")
        self.url = url
        self.key: OriginKey = (scheme, url.raw_host, url.port)
        self.head_only = method == "HEAD"
        self.resendable = replay_stale or method in _IDEMPOTENT
        self.data = _head(method, url, headers, body, user_agent) + (body or b"")


def _head(
    method: str,
    url: URL,
    headers: Mapping[str, str] | None,
    body: bytes | None,
    user_agent: str,
) -> bytes:
    """The request line and headers, ending with the empty line."""
    lines = [f"{method} {url.raw_path_qs} HTTP/1.1", f"Host: {url.host_port_subcomponent}"]
    given: set[str] = set()
    for name, value in (headers or {}).items():
        lower = name.lower()
        if lower in _OURS:
            given.add(lower)
            if lower in ("host", "content-length", "transfer-encoding"):
                if lower == "host":
                    lines[1] = f"Host: {value}"
                continue
        lines.append(f"{name}: {value}")
    if "accept-encoding" not in given:
        lines.append("Accept-Encoding: gzip, deflate")
    if "user-agent" not in given:
        lines.append(f"User-Agent: {user_agent}")
    if body is not None or method in _BODY_METHODS:
        lines.append(f"Content-Length: {len(body or b'')}")
    text = "\r\n".join(lines)
    if text.count("\n") != len(lines) - 1 or text.count("\r") != len(lines) - 1:
        raise ValueError("A request header holds a CR or LF character.")
    return (text + "\r\n\r\n").encode("utf-8", "surrogateescape")


async def _connect(
    loop: asyncio.AbstractEventLoop,
    origin: str,
    host: str,
    port: int,
    tls: ssl.SSLContext | None,
) -> Connection:
    """A new connection to ``host:port`` (TLS when ``tls`` is given)."""
    try:
        transport, conn = await loop.create_connection(
            lambda: Connection(loop, origin),
            host,
            port,
            ssl=tls,
            server_hostname=host if tls is not None else None,
        )
    except ssl.SSLError as exc:
        raise TLSError(f"TLS with {origin} failed: {exc}", origin=origin) from exc
    except OSError as exc:
        raise ConnectError(f"Could not connect to {origin}: {exc}", origin=origin) from exc
    conn.attach(transport)
    return conn
