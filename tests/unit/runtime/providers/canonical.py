"""Checks that a provider's item events form a canonical Responses stream.

Shared by the unit tests of the chat stream assembler and the integration tests of the
providers. The rules are the OpenAI SDK stream helper's (``reference/responses_api.md``
§4) plus the provider contract of ``base.py``: output indexes count from 0 in order, one
item is open at a time, ``output_item.added`` comes before anything else of its item,
``content_part.added`` before the text of its part, every item is done, and ``done``
keeps the ``type``/``id``/``call_id`` of ``added``. Each event also validates against the
Open Responses model of its type.
"""

from __future__ import annotations

from typing import Any

from pilothouse.protocol.events import Sequencer
from tests.e2e.wire import check_event

_PART_EVENTS = frozenset(
    {
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
    }
)


def check_canonical(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Assert ``events`` (unsequenced, as providers yield them) are canonical; return the
    items of their ``output_item.done`` events, in output order."""
    added: dict[int, dict[str, Any]] = {}
    finished: list[dict[str, Any]] = []
    parts: set[tuple[int, int]] = set()
    current: int | None = None
    sequencer = Sequencer()
    for event in events:
        assert "sequence_number" not in event, "providers leave sequencing to the caller"
        check_event(sequencer.stamp(dict(event)))
        kind, index = event["type"], event["output_index"]
        if kind == "response.output_item.added":
            assert current is None, f"item {index} opened while item {current} is open"
            assert index == len(added), f"output index {index} out of order"
            added[index] = event["item"]
            current = index
            continue
        assert index == current, f"{kind} for item {index} while item {current} is open"
        if kind == "response.output_item.done":
            for key in ("type", "id", "call_id"):
                assert event["item"].get(key) == added[index].get(key), key
            finished.append(event["item"])
            current = None
            continue
        assert event["item_id"] == added[index]["id"]
        part = (index, event.get("content_index", -1))
        if kind == "response.content_part.added":
            parts.add(part)
        elif kind in _PART_EVENTS:
            assert part in parts, f"{kind} before its content_part.added"
    assert current is None and len(finished) == len(added), "every item must be done"
    return finished


def without_ids(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Items with their random ids (``id``, ``call_id``) removed, for comparison."""
    return [{k: v for k, v in item.items() if k not in ("id", "call_id")} for item in items]
