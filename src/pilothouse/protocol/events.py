"""Server-sent events of a response stream, in canonical order.

Two pieces: :func:`item_events` expands one finished output item into the
``output_item.added`` … ``output_item.done`` events a live stream would have carried
(used by the offline model and for replays), and :class:`Sequencer` stamps strictly
increasing ``sequence_number`` values and encodes events as SSE frames.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

Event = dict[str, Any]

DELTA_CHARS = 24


def item_events(item: dict[str, Any], output_index: int) -> Iterator[Event]:
    """The stream events that deliver ``item`` at ``output_index``, without sequence numbers."""
    kind = item.get("type")
    if kind == "message":
        yield from _message_events(item, output_index)
    elif kind == "function_call":
        yield from _arguments_events(item, output_index, "function_call_arguments")
    elif kind == "mcp_call":
        yield {
            "type": "response.output_item.added",
            "output_index": output_index,
            "item": _in_progress(item, arguments=""),
        }
        yield {
            "type": "response.mcp_call.in_progress",
            "output_index": output_index,
            "item_id": item["id"],
        }
        yield {
            "type": "response.mcp_call_arguments.delta",
            "output_index": output_index,
            "item_id": item["id"],
            "delta": item.get("arguments", ""),
        }
        yield {
            "type": "response.mcp_call_arguments.done",
            "output_index": output_index,
            "item_id": item["id"],
            "arguments": item.get("arguments", ""),
        }
        outcome = "failed" if item.get("error") else "completed"
        yield {
            "type": f"response.mcp_call.{outcome}",
            "output_index": output_index,
            "item_id": item["id"],
        }
        yield {"type": "response.output_item.done", "output_index": output_index, "item": item}
    elif kind == "mcp_list_tools":
        yield {
            "type": "response.output_item.added",
            "output_index": output_index,
            "item": {**item, "tools": []},
        }
        yield {
            "type": "response.mcp_list_tools.in_progress",
            "output_index": output_index,
            "item_id": item["id"],
        }
        outcome = "failed" if item.get("error") else "completed"
        yield {
            "type": f"response.mcp_list_tools.{outcome}",
            "output_index": output_index,
            "item_id": item["id"],
        }
        yield {"type": "response.output_item.done", "output_index": output_index, "item": item}
    else:
        yield {
            "type": "response.output_item.added",
            "output_index": output_index,
            "item": _in_progress(item),
        }
        yield {"type": "response.output_item.done", "output_index": output_index, "item": item}


def _in_progress(item: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    started = {**item, **overrides}
    if "status" in item:
        started["status"] = "in_progress"
    return started


def _message_events(item: dict[str, Any], output_index: int) -> Iterator[Event]:
    item_id = item["id"]
    yield {
        "type": "response.output_item.added",
        "output_index": output_index,
        "item": _in_progress(item, content=[]),
    }
    for content_index, part in enumerate(item.get("content", [])):
        base = {"item_id": item_id, "output_index": output_index, "content_index": content_index}
        if part.get("type") == "refusal":
            empty: dict[str, Any] = {"type": "refusal", "refusal": ""}
            yield {"type": "response.content_part.added", **base, "part": empty}
            yield {"type": "response.refusal.delta", **base, "delta": part["refusal"]}
            yield {"type": "response.refusal.done", **base, "refusal": part["refusal"]}
        else:
            text = part.get("text", "")
            empty = {"type": "output_text", "text": "", "annotations": []}
            yield {"type": "response.content_part.added", **base, "part": empty}
            for start in range(0, len(text), DELTA_CHARS):
                yield {
                    "type": "response.output_text.delta",
                    **base,
                    "delta": text[start : start + DELTA_CHARS],
                    "logprobs": [],
                }
            yield {"type": "response.output_text.done", **base, "text": text, "logprobs": []}
        yield {"type": "response.content_part.done", **base, "part": part}
    yield {"type": "response.output_item.done", "output_index": output_index, "item": item}


def _arguments_events(item: dict[str, Any], output_index: int, name: str) -> Iterator[Event]:
    arguments = item.get("arguments", "")
    yield {
        "type": "response.output_item.added",
        "output_index": output_index,
        "item": _in_progress(item, arguments=""),
    }
    base = {"item_id": item["id"], "output_index": output_index}
    for start in range(0, len(arguments), DELTA_CHARS * 4):
        yield {
            "type": f"response.{name}.delta",
            **base,
            "delta": arguments[start : start + DELTA_CHARS * 4],
        }
    yield {"type": f"response.{name}.done", **base, "arguments": arguments}
    yield {"type": "response.output_item.done", "output_index": output_index, "item": item}


def lifecycle(kind: str, resource: dict[str, Any]) -> Event:
    """A ``response.<kind>`` event carrying the response object.

    The object is not copied: callers pass a freshly built object and encode the event at
    once (a deep copy per lifecycle event cost more than the rest of a streamed pass-through).
    """
    return {"type": f"response.{kind}", "response": resource}


def terminal_kind(status: str) -> str:
    """The terminal event name for a final status (cancelled responses end as failed)."""
    return {"completed": "completed", "incomplete": "incomplete"}.get(status, "failed")


class Sequencer:
    """Stamps strictly increasing sequence numbers and encodes SSE frames."""

    def __init__(self, start: int = 0) -> None:
        self.next = start

    def stamp(self, event: Event) -> Event:
        """Set the event's ``sequence_number`` to the next value and return it."""
        event["sequence_number"] = self.next
        self.next += 1
        return event

    def frame(self, event: Event) -> bytes:
        """Stamp ``event`` and encode it as one SSE frame."""
        return encode(self.stamp(event))


def encode(event: Event) -> bytes:
    """One SSE frame: ``event: <type>`` and ``data: <json>``."""
    return b"event: " + str(event["type"]).encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


def replay(resource: dict[str, Any]) -> Iterator[Event]:
    """The whole event stream of a finished (or snapshotted) response, unsequenced.

    Used for ``GET /v1/responses/{id}?stream=true``: the stream a client would have seen,
    rebuilt from the stored object so that no per-delta rows need to be written.
    """
    start = {
        **resource,
        "status": "in_progress" if resource["status"] != "queued" else "queued",
        "output": [],
        "usage": None,
        "completed_at": None,
        "error": None,
        "incomplete_details": None,
    }
    yield lifecycle("created", start)
    if start["status"] == "queued":
        yield lifecycle("queued", start)
    yield lifecycle("in_progress", {**start, "status": "in_progress"})
    for index, item in enumerate(resource.get("output", [])):
        yield from item_events(item, index)
    if resource["status"] in ("completed", "incomplete", "failed", "cancelled"):
        yield lifecycle(terminal_kind(resource["status"]), resource)
