"""What the client returns: a whole :class:`Response`, or a :class:`StreamingResponse`
read chunk by chunk; and the ``Content-Encoding`` decoding both share.

Bodies coded ``gzip`` or ``deflate`` (zlib-wrapped, or raw as some servers send it) are
decoded; any other coding is passed through as it came, as aiohttp does. A body that
does not decode is a :class:`~.errors.ProtocolError`.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Callable

from multidict import CIMultiDict

from pilothouse.runtime.http.connection import Connection
from pilothouse.runtime.http.errors import ProtocolError

_GZIP_WBITS = 16 + zlib.MAX_WBITS


class Response:
    """A response read whole.

    Attributes:
        status: The status code.
        headers: The headers, names case-insensitive (repeated names kept).
        body: The body, ``Content-Encoding`` decoded; empty when there was none.
    """

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: CIMultiDict[str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def __repr__(self) -> str:
        return f"<Response {self.status}, {len(self.body)} bytes>"


class StreamingResponse:
    """A response whose body is read as it arrives; valid inside the client's
    ``stream(...)`` block only.

    Attributes:
        status: The status code.
        headers: The headers, names case-insensitive.
    """

    def __init__(self, conn: Connection) -> None:
        self.status = conn.status
        self.headers = conn.headers
        self._conn: Connection | None = conn
        self._decoder = decoder_for(conn.headers, conn.origin)

    def detach(self) -> None:
        """Forget the connection (the block was left; it may carry another exchange now)."""
        self._conn = None

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        """Yield the body as it arrives, decoded, in chunks of any size (whatever arrived
        since the consumer last asked). Reading pauses while the consumer lags."""
        decode = self._decoder
        while True:
            if self._conn is None:
                raise RuntimeError("The response was read after its stream block was left.")
            chunk = await self._conn.next_chunk()
            if chunk is None:
                break
            if decode is not None:
                chunk = decode(chunk)
                if not chunk:
                    continue
            yield chunk
        if decode is not None:
            tail = decode(b"")
            if tail:
                yield tail

    async def read(self) -> bytes:
        """The rest of the body, decoded."""
        return b"".join([chunk async for chunk in self.iter_chunks()])

    def __repr__(self) -> str:
        return f"<StreamingResponse {self.status}>"


def decode_body(headers: CIMultiDict[str], body: bytes, origin: str) -> bytes:
    """``body`` with its ``Content-Encoding`` (gzip or deflate) undone."""
    coding = headers.get("content-encoding")
    if not coding or not body:
        return body
    coding = coding.strip().lower()
    try:
        if coding in ("gzip", "x-gzip"):
            return zlib.decompress(body, _GZIP_WBITS)
        if coding == "deflate":
            try:
                return zlib.decompress(body)
            except zlib.error:
                return zlib.decompress(body, -zlib.MAX_WBITS)
    except zlib.error as exc:
        raise _undecodable(coding, origin, exc) from None
    return body


def decoder_for(headers: CIMultiDict[str], origin: str) -> Callable[[bytes], bytes] | None:
    """An incremental decoder for the response's coding, or None when there is nothing
    to undo. It takes chunks in order and ``b""`` at the end."""
    coding = (headers.get("content-encoding") or "").strip().lower()
    if coding in ("gzip", "x-gzip"):
        return _Inflater(_GZIP_WBITS, origin, coding)
    if coding == "deflate":
        return _Inflater(zlib.MAX_WBITS, origin, coding)
    return None


class _Inflater:
    """Incremental gzip/deflate; a deflate body without the zlib wrapper is retried raw."""

    def __init__(self, wbits: int, origin: str, coding: str) -> None:
        self._wbits = wbits
        self._origin = origin
        self._coding = coding
        self._inflater = zlib.decompressobj(wbits)
        self._started = False

    def __call__(self, chunk: bytes) -> bytes:
        try:
            if not chunk:
                return self._inflater.flush()
            if self._started or self._wbits != zlib.MAX_WBITS:
                return self._inflater.decompress(chunk)
            self._started = True
            try:
                return self._inflater.decompress(chunk)
            except zlib.error:
                self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
                return self._inflater.decompress(chunk)
        except zlib.error as exc:
            raise _undecodable(self._coding, self._origin, exc) from None


def _undecodable(coding: str, origin: str, exc: zlib.error) -> ProtocolError:
    return ProtocolError(
        f"{origin} sent a {coding} body that does not decode: {exc}.", origin=origin
    )
