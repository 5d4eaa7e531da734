"""``iter_sse``: event-stream framing as upstreams send it, whatever the chunk boundaries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from pilothouse.runtime.providers.sse import iter_sse


async def _chunks(parts: list[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def parse(*parts: bytes) -> list[dict[str, Any]]:
    """The events ``iter_sse`` yields for a stream delivered as ``parts``."""
    return [event async for event in iter_sse(_chunks(list(parts)))]


ONE, TWO = {"n": 1}, {"n": 2}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(b'event: x\ndata: {"n":1}\n\n', [ONE], id="event-line-ignored"),
        pytest.param(b'data: {"n":\ndata: 1}\n\n', [ONE], id="multi-line-data"),
        pytest.param(b'data: {"n":1}\r\n\r\ndata: {"n":2}\r\n\r\n', [ONE, TWO], id="crlf"),
        pytest.param(b'data: {"n":1}\r\rdata: {"n":2}\r\r', [ONE, TWO], id="lone-cr"),
        pytest.param(b': keep-alive\n\n:ping\ndata: {"n":1}\n\n', [ONE], id="comments"),
        pytest.param(b'data: {"n":1}\n\ndata: [DONE]\n\ndata: {"n":2}\n\n', [ONE], id="done"),
        pytest.param(b'data: {"n":1}\n\ndata: [DONE]', [ONE], id="done-unterminated"),
        pytest.param(b'data:{"n":1}\n\n', [ONE], id="no-space-after-colon"),
        pytest.param(b'id: 7\nretry: 10\ndata: {"n":1}\n\n', [ONE], id="other-fields"),
        pytest.param(b'data:\n\ndata: {"n":1}\n\n', [ONE], id="empty-data-not-dispatched"),
        pytest.param(b'data: [1]\n\ndata: "s"\n\ndata: {"n":1}\n\n', [ONE], id="non-objects"),
        pytest.param(b'data: {"n":1}', [ONE], id="no-final-newline"),
        pytest.param(b'data: {"n":1}\n', [ONE], id="no-final-blank-line"),
        pytest.param(b"\n\n\r\n", [], id="blank-lines-only"),
        pytest.param(b"", [], id="empty"),
    ],
)
async def test_framing(raw: bytes, expected: list[dict[str, Any]]) -> None:
    assert await parse(raw) == expected


SAMPLE = (
    b": comment\r\n"
    b"event: response.output_text.delta\r\n"
    b'data: {"type":"a",\r\n'
    b'data: "text":"line\\r\\nbreak"}\r\n'
    b"\r\n"
    b'data: {"type":"b"}\r\r'
    b'data: {"type":"c"}\n\n'
    b"data: [DONE]\n\n"
)
SAMPLE_EVENTS = [{"type": "a", "text": "line\r\nbreak"}, {"type": "b"}, {"type": "c"}]


@pytest.mark.parametrize("cut", range(1, len(SAMPLE)))
async def test_any_two_chunk_split_gives_the_same_events(cut: int) -> None:
    assert await parse(SAMPLE[:cut], SAMPLE[cut:]) == SAMPLE_EVENTS


async def test_byte_by_byte() -> None:
    assert await parse(*(SAMPLE[i : i + 1] for i in range(len(SAMPLE)))) == SAMPLE_EVENTS


async def test_a_line_far_longer_than_any_chunk() -> None:
    event = {"type": "response.completed", "blob": "x" * 3_000_000}
    raw = b"data: " + orjson.dumps(event) + b"\n\n"
    parts = [raw[i : i + 65_536] for i in range(0, len(raw), 65_536)]
    assert await parse(*parts) == [event]


async def test_data_that_is_not_json_raises() -> None:
    with pytest.raises(orjson.JSONDecodeError):
        await parse(b"data: not json\n\n")
