"""Reading server-sent events from an upstream byte stream.

The parser takes raw chunks of any size (the HTTP client's
:meth:`~pilothouse.runtime.http.StreamingResponse.iter_chunks`: whatever arrived since the
last read) and splits lines itself. Lines have no length limit: one ``data:`` line of a
Responses stream holds a whole event, which is large for long answers or generated images
(``response.completed`` repeats the full output); line readers with a cap (aiohttp's
``readline`` refuses lines over 512 KiB) would fail on them.

Lines end with CRLF, LF or a lone CR, also when a chunk boundary falls between CR and
LF. Fields follow the WHATWG event-stream rules: a line starting with ``:`` is a
comment, one space after the colon is dropped, ``data`` lines of one event are joined
with ``\\n``, and an empty line ends the event. Only ``data`` matters here (the
Responses event's ``type`` is inside the JSON).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

import orjson

DONE = b"[DONE]"


class LineSplitter:
    """Splits a byte stream fed in arbitrary chunks into lines without their endings."""

    def __init__(self) -> None:
        self._partial: list[bytes] = []
        self._skip_lf = False

    def feed(self, chunk: bytes) -> list[bytes]:
        """The lines completed by ``chunk``."""
        if self._skip_lf and chunk[:1] == b"\n":
            chunk = chunk[1:]
        self._skip_lf = False
        if not chunk:
            return []
        lines: list[bytes] = []
        pieces = chunk.splitlines(keepends=True)  # bytes split on \r\n, \n and \r only
        for piece in pieces:
            if not piece.endswith((b"\n", b"\r")):
                self._partial.append(piece)  # only the last piece can be unterminated
                continue
            if self._partial:
                piece = b"".join([*self._partial, piece])
                self._partial = []
            lines.append(piece.rstrip(b"\r\n"))
        # A CR at the very end may be the first half of a CRLF split across chunks.
        self._skip_lf = pieces[-1].endswith(b"\r")
        return lines

    def flush(self) -> bytes | None:
        """The unterminated last line, if the stream ended inside one."""
        if not self._partial:
            return None
        line = b"".join(self._partial)
        self._partial = []
        return line


async def iter_sse(chunks: AsyncIterable[bytes]) -> AsyncIterator[dict[str, Any]]:
    """Yield each event's JSON ``data`` as a dict; ``data: [DONE]`` ends the stream.

    Events whose data is JSON but not an object are skipped. Data that is not JSON
    raises ``orjson.JSONDecodeError`` (a ``ValueError``); the caller decides what an
    unreadable upstream means. An event cut off by the end of the stream (no closing
    empty line) is still delivered when its data is complete JSON, because some servers
    close the connection right after the last ``data:`` line.
    """
    splitter = LineSplitter()
    data: list[bytes] = []
    async for chunk in chunks:
        for line in splitter.feed(chunk):
            if line:
                _add_field(line, data)
                continue
            payload = _take(data)
            if payload == DONE:
                return
            if payload:
                event = orjson.loads(payload)
                if isinstance(event, dict):
                    yield event
    last = splitter.flush()
    if last:
        _add_field(last, data)
    payload = _take(data)
    if payload and payload != DONE:
        event = orjson.loads(payload)
        if isinstance(event, dict):
            yield event


def _add_field(line: bytes, data: list[bytes]) -> None:
    """Record ``line``'s value if it is a ``data`` field (comments and others are ignored)."""
    name, colon, value = line.partition(b":")
    if name != b"data":
        return
    if colon and value[:1] == b" ":
        value = value[1:]
    data.append(value)


def _take(data: list[bytes]) -> bytes:
    """The event's data (lines joined with LF), clearing the buffer."""
    payload = b"\n".join(data)
    data.clear()
    return payload
