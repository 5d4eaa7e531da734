"""Reading server-sent events from an upstream byte stream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

import orjson


class LineReader(Protocol):
    """Anything that yields lines of bytes asynchronously (aiohttp's ``StreamReader``)."""

    def __aiter__(self) -> AsyncIterator[bytes]: ...


async def iter_sse(stream: LineReader) -> AsyncIterator[dict[str, Any]]:
    """Yield each event's JSON ``data`` as a dict; ``[DONE]`` ends the stream."""
    data: list[bytes] = []
    async for raw in stream:
        line = raw.rstrip(b"\r\n")
        if not line:
            if data:
                payload = b"\n".join(data)
                data = []
                if payload == b"[DONE]":
                    return
                event = orjson.loads(payload)
                if isinstance(event, dict):
                    yield event
            continue
        if line.startswith(b"data:"):
            data.append(line[5:].lstrip(b" "))
    if data and data != [b"[DONE]"]:
        event = orjson.loads(b"\n".join(data))
        if isinstance(event, dict):
            yield event
