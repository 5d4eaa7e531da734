"""The timeline tree, also over a journal of schema version 1 (no latencies, no attempts)."""

from __future__ import annotations

from pilothouse.observability import timeline
from pilothouse.storage.base import JournalEntry, StoredRun

RUN = StoredRun("resp_1", "t", "desk", "1", "completed", 100, 101, "{}")


def _entry(seq: int, kind: str, step: int, **payload: object) -> JournalEntry:
    return JournalEntry("resp_1", seq, kind, step, 100.0 + seq, dict(payload), schema_version=1)


def test_a_version_1_journal_still_renders() -> None:
    item = {"type": "mcp_call", "name": "get_ticket_status", "status": "completed"}
    entries = [
        _entry(1, "run.started", 0, agent="desk", model="m"),
        _entry(2, "model.started", 0, model="m", reserved_usd=0.0),
        _entry(
            3,
            "model.completed",
            1,
            output=[],
            usage={"input_tokens": 7, "output_tokens": 3},
            cost_usd=0.5,
            status="completed",
        ),
        _entry(
            4,
            "tool.intent",
            1,
            position=0,
            item_id="mcp_1",
            name="get_ticket_status",
            arguments="{}",
        ),
        _entry(
            5,
            "tool.completed",
            1,
            position=0,
            item=item,
            result={},
            error=None,
            attempts=1,
            latency_s=0.25,
        ),
        _entry(
            6,
            "run.finished",
            1,
            status="completed",
            reason=None,
            usage={"input_tokens": 7, "output_tokens": 3},
            cost_usd=0.5,
        ),
    ]
    text = timeline.render(timeline.build(RUN, entries))
    assert text.splitlines() == [
        "run resp_1  desk@1  release -  completed  in 7 / out 3 tok  $0.500000",
        "├── step 1  model m  completed  in 7 / out 3 tok  $0.500000",
        "│   └── tool get_ticket_status  1 attempt  ok  250 ms",
        "└── finished  completed",
    ]
