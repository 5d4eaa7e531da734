"""Starting a stream: the point up to which a failed stream can still be tried again.

Once a provider's stream has yielded its first event, the caller may already have shown
it to a client, so a retry (:mod:`.retrying`) or a switch to another provider
(:mod:`.fallback`) would duplicate or contradict output. Before that, a failure is as
harmless as a failed ``complete``. :func:`start_stream` waits for that first event, so a
wrapper can treat "open the stream" as one attempt and then relay the rest untouched.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from pilothouse.errors import UpstreamError
from pilothouse.runtime.providers.base import ModelResult, StreamEvent

Streamed = StreamEvent | ModelResult


@dataclass(slots=True)
class StartedStream:
    """A stream that has produced its first item.

    Attributes:
        first: The first item (an event, or the result of an empty output).
        rest: The same stream, positioned after ``first``; close it when done.
    """

    first: Streamed
    rest: AsyncIterator[Streamed]


async def start_stream(events: AsyncIterator[Streamed]) -> StartedStream:
    """Wait for the first item of ``events``; on failure close ``events`` and re-raise.

    Raises:
        UpstreamError: The stream failed before its first item, or ended without any
            (which breaks the provider contract, so it is reported as a truncated
            stream — transient, like a dropped connection).
    """
    try:
        first = await anext(events)
    except StopAsyncIteration:
        raise UpstreamError(
            "The upstream stream ended before its first event.",
            code="upstream_stream_truncated",
        ) from None
    except BaseException:
        await aclose_stream(events)
        raise
    return StartedStream(first, events)


async def aclose_stream(events: AsyncIterator[Streamed]) -> None:
    """Close ``events`` if it can be closed (async generators can; plain iterators need not).

    Closing at once matters: an abandoned generator would hold its HTTP response (and a
    breaker's probe slot) until the garbage collector finalises it.
    """
    close = getattr(events, "aclose", None)
    if close is not None:
        await close()
