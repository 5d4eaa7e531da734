"""Streaming over Chat Completions: ``chat.completion.chunk`` deltas → Responses item events.

A chat stream sends text and tool-call fragments as deltas of one message; a Responses
stream sends items, each opened, filled and closed. :class:`ChatStreamAssembler` turns the
first into the second, in the canonical order the OpenAI SDK's stream helper checks:

* one item is open at a time, and output indexes count from 0 in order of appearance;
* a message opens with ``output_item.added`` (empty content) and
  ``content_part.added`` (an empty ``output_text``) before its first
  ``output_text.delta``, and closes with ``output_text.done``, ``content_part.done`` and
  ``output_item.done``;
* a tool call opens with ``output_item.added`` (``arguments: ""``) when its first fragment
  (id and name) arrives, streams ``function_call_arguments.delta`` per fragment and closes
  with ``function_call_arguments.done`` and ``output_item.done``;
* the open item closes when the next one starts or the stream ends.

Text that is only whitespace does not open a message until something else follows it,
and is dropped if tool calls come instead (local models often emit ``"\\n\\n"`` around
tool calls); a stream with no item at all still yields one (possibly empty) message —
both as :func:`~.chat_mapping.result_from_completion` does for a whole completion, so a
stream and a non-streamed call give the same items. Text arriving after a tool call (rare)
opens a new message after it.

Servers stream parallel tool calls one after the other (by ``index``); a fragment for a
call that was already closed cannot be placed in a canonical stream, so it is reported as
a bad upstream response rather than silently mis-assembled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pilothouse.errors import UpstreamError
from pilothouse.protocol.ids import CALL, FUNCTION_CALL, MESSAGE, new_id
from pilothouse.runtime.providers.base import Item, ModelResult, StreamEvent
from pilothouse.runtime.providers.chat_mapping import arguments_text, chat_usage, outcome


@dataclass(slots=True)
class _OpenItem:
    """The item being streamed: its final shape so far and the text gathered for it."""

    index: int
    item: Item
    chunks: list[str] = field(default_factory=list)


class ChatStreamAssembler:
    """Feeds on chunks, returns item events; :meth:`finish` closes and gives the result."""

    def __init__(self) -> None:
        self.output: list[Item] = []
        self._open: _OpenItem | None = None
        self._pending = ""
        self._calls: dict[int, Item] = {}
        self._finish_reason: str | None = None
        self._usage: Any = None
        self._model: str | None = None

    def feed(self, chunk: dict[str, Any]) -> list[StreamEvent]:
        """The events that one chunk produces.

        Raises:
            UpstreamError: The chunk is an error, or a tool-call fragment out of order.
        """
        if chunk.get("error") or chunk.get("object") == "error":
            raise _chunk_error(chunk)
        self._model = chunk.get("model") or self._model
        if chunk.get("usage"):
            self._usage = chunk["usage"]
        events: list[StreamEvent] = []
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if isinstance(delta.get("content"), str) and delta["content"]:
                events += self._text(delta["content"])
            for fragment in delta.get("tool_calls") or []:
                events += self._call(fragment)
            if choice.get("finish_reason"):
                self._finish_reason = choice["finish_reason"]
        return events

    def finish(self) -> tuple[list[StreamEvent], ModelResult]:
        """The closing events and the result, once the stream has ended.

        Raises:
            UpstreamError: The stream ended before a ``finish_reason`` (it was cut off).
        """
        if self._finish_reason is None:
            raise UpstreamError(
                "The upstream's chat stream ended before it finished.",
                code="upstream_stream_truncated",
            )
        events: list[StreamEvent] = []
        if not self.output:
            events += self._open_message(self._pending)
        status, details = outcome(self._finish_reason)
        events += self._close("incomplete" if status == "incomplete" else "completed")
        result = ModelResult(
            output=self.output,
            usage=chat_usage(self._usage),
            status=status,
            incomplete_details=details,
            model=self._model,
        )
        return events, result

    # -- text ----------------------------------------------------------------------------

    def _text(self, text: str) -> list[StreamEvent]:
        current = self._open
        if current is not None and current.item["type"] == "message":
            current.chunks.append(text)
            return [_text_delta(current, text)]
        self._pending += text
        if not self._pending.strip():
            return []
        events = self._close("completed")
        events += self._open_message(self._pending)
        return events

    def _open_message(self, text: str) -> list[StreamEvent]:
        item = {
            "type": "message",
            "id": new_id(MESSAGE),
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        current = self._start(item)
        events: list[StreamEvent] = [
            _added(current),
            {
                **_at(current),
                "type": "response.content_part.added",
                "content_index": 0,
                "part": {"type": "output_text", "text": "", "annotations": []},
            },
        ]
        if text:
            current.chunks.append(text)
            events.append(_text_delta(current, text))
        return events

    # -- tool calls ----------------------------------------------------------------------

    def _call(self, fragment: dict[str, Any]) -> list[StreamEvent]:
        function = fragment.get("function") or {}
        slot = self._slot(fragment)
        item = self._calls.get(slot)
        events: list[StreamEvent] = []
        if item is None:
            events += self._close("completed")
            self._pending = ""
            item = {
                "type": "function_call",
                "id": new_id(FUNCTION_CALL),
                "call_id": fragment.get("id") or new_id(CALL),
                "name": str(function.get("name") or ""),
                "arguments": "",
                "status": "in_progress",
            }
            self._calls[slot] = item
            events.append(_added(self._start(item)))
        current = self._open
        if current is None or current.item is not item:
            raise UpstreamError(
                "The upstream interleaved the fragments of parallel tool calls.",
                code="upstream_bad_response",
            )
        if not item["name"] and function.get("name"):
            item["name"] = str(function["name"])
        piece = arguments_text(function.get("arguments"))
        if piece:
            current.chunks.append(piece)
            events.append(
                {**_at(current), "type": "response.function_call_arguments.delta", "delta": piece}
            )
        return events

    def _slot(self, fragment: dict[str, Any]) -> int:
        """The chat ``index`` of a fragment; servers that omit it mean the latest call,
        unless the fragment brings a new id."""
        index = fragment.get("index")
        if isinstance(index, int):
            return index
        known = {item["call_id"]: slot for slot, item in self._calls.items()}
        call_id = fragment.get("id")
        if call_id and call_id not in known:
            return max(self._calls, default=-1) + 1
        return known.get(call_id, max(self._calls, default=0))

    # -- opening and closing -------------------------------------------------------------

    def _start(self, item: Item) -> _OpenItem:
        self._open = _OpenItem(len(self.output), item)
        self.output.append(item)
        return self._open

    def _close(self, status: str) -> list[StreamEvent]:
        """Close the open item (if any) with ``status``; the events that say so."""
        current, self._open = self._open, None
        if current is None:
            return []
        item = current.item
        item["status"] = status
        text = "".join(current.chunks)
        if item["type"] == "message":
            part = {"type": "output_text", "text": text, "annotations": []}
            item["content"] = [part]
            at = {**_at(current), "content_index": 0}
            events: list[StreamEvent] = [
                {**at, "type": "response.output_text.done", "text": text, "logprobs": []},
                {**at, "type": "response.content_part.done", "part": dict(part)},
            ]
        else:
            item["arguments"] = text
            events = [
                {**_at(current), "type": "response.function_call_arguments.done", "arguments": text}
            ]
        events.append(
            {"type": "response.output_item.done", "output_index": current.index, "item": dict(item)}
        )
        return events


def _at(current: _OpenItem) -> dict[str, Any]:
    return {"item_id": current.item["id"], "output_index": current.index}


def _added(current: _OpenItem) -> StreamEvent:
    return {
        "type": "response.output_item.added",
        "output_index": current.index,
        "item": dict(current.item),
    }


def _text_delta(current: _OpenItem, text: str) -> StreamEvent:
    return {
        **_at(current),
        "type": "response.output_text.delta",
        "content_index": 0,
        "delta": text,
        "logprobs": [],
    }


def _chunk_error(chunk: dict[str, Any]) -> UpstreamError:
    """An error sent inside the stream: ``{"error": {…}}`` (OpenAI, llama.cpp) or a flat
    ``{"object": "error", "message": …}`` (vLLM)."""
    nested = chunk.get("error")
    error: dict[str, Any] = nested if isinstance(nested, dict) else chunk
    code = error.get("code")
    return UpstreamError(
        str(error.get("message") or "Upstream stream error."),
        code=code if isinstance(code, str) else "upstream_error",
        param=error.get("param"),
    )
