"""Stream events expanded from items, and sequencing."""

from __future__ import annotations

from pilothouse.protocol.events import Sequencer, encode, item_events, replay
from pilothouse.protocol.items import assistant_message, function_call


def test_message_events_in_canonical_order() -> None:
    item = assistant_message("x" * 60, item_id="msg_1")
    kinds = [e["type"] for e in item_events(item, 2)]
    assert kinds == [
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
    ]
    events = list(item_events(item, 2))
    assert all(e["output_index"] == 2 for e in events)
    assert events[0]["item"]["status"] == "in_progress" and events[0]["item"]["content"] == []
    assert "".join(e["delta"] for e in events if e["type"].endswith("delta")) == "x" * 60


def test_function_call_events_start_with_empty_arguments() -> None:
    call = function_call("lookup", '{"id": "INC-1"}')
    events = list(item_events(call, 0))
    assert events[0]["item"]["arguments"] == ""
    assert events[-2] == {
        "type": "response.function_call_arguments.done",
        "item_id": call["id"],
        "output_index": 0,
        "arguments": '{"id": "INC-1"}',
    }
    assert events[-1]["item"] == call


def test_sequencer_numbers_strictly_increase_from_start() -> None:
    sequencer = Sequencer(5)
    stamped = [sequencer.stamp({"type": "t"}) for _ in range(3)]
    assert [e["sequence_number"] for e in stamped] == [5, 6, 7]


def test_encode_is_one_sse_frame() -> None:
    frame = encode({"type": "response.created", "sequence_number": 0})
    assert frame == (
        b'event: response.created\ndata: {"type":"response.created","sequence_number":0}\n\n'
    )


def test_replay_of_a_queued_response_stops_before_terminal() -> None:
    resource = {"id": "resp_1", "status": "queued", "output": [], "usage": None}
    kinds = [e["type"] for e in replay(resource)]
    assert kinds == ["response.created", "response.queued", "response.in_progress"]
