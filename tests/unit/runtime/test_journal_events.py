"""Journal v2 payloads: the context stamped on every entry, the tally behind run.finished,
and the builders that policy and approvals will call."""

from __future__ import annotations

from typing import Any

from pilothouse.control.agent import AgentSpec, Limits
from pilothouse.runtime.agent import events
from pilothouse.runtime.agent.journal import RunJournal
from pilothouse.runtime.agent.state import RunState
from pilothouse.storage.base import JournalEntry, StoredRun


class MemoryJournal:
    """A JournalStore that keeps everything in lists."""

    def __init__(self) -> None:
        self.runs: list[StoredRun] = []
        self.entries: list[JournalEntry] = []

    async def create_run(self, run: StoredRun, entries: list[JournalEntry]) -> None:
        self.runs.append(run)
        self.entries.extend(entries)

    async def append(self, entries: list[JournalEntry], status: Any = None) -> None:
        self.entries.extend(entries)


def _state() -> RunState:
    return RunState(
        run_id="resp_1",
        tenant="t",
        agent=AgentSpec.model_validate({"name": "desk", "model": "m", "version": "3"}),
        limits=Limits(),
        tools={},
        instructions=None,
        history=[],
        headers={"x-request-id": "req-42"},
        release_id="rel-1",
        principal_id="key_abc",
    )


async def test_every_entry_is_stamped_and_run_finished_summarises() -> None:
    store = MemoryJournal()
    journal = RunJournal(store, _state())  # type: ignore[arg-type]
    journal.start("{}")
    journal.emit(events.policy_decision("call_tool", "tool:search_kb", "deny", tool="search_kb"))
    journal.emit(events.approval_requested("apr_1", "add_note", "sha256:ab"))
    journal.emit(events.approval_resolved("apr_1", "add_note", "approved", approver_id="key_x"))
    item = {"type": "mcp_call", "name": "search_kb", "status": "failed"}
    journal.emit(
        events.tool_completed(
            0, "search_kb", item, "ph-1", None, {"code": "timeout", "message": "t"}, 3, 1.5
        )
    )
    journal.emit(events.run_error("boom", "it broke", "RuntimeError"))
    journal.finished("failed", "boom")
    await journal.flush(status="failed")
    assert [e.kind for e in store.entries] == [
        "run.started",
        "policy.decision",
        "approval.requested",
        "approval.resolved",
        "tool.completed",
        "run.error",
        "run.finished",
    ]
    for entry in store.entries:
        assert entry.schema_version == 2
        assert entry.payload["agent"] == "desk" and entry.payload["agent_version"] == "3"
        assert entry.payload["release_id"] == "rel-1"
        assert entry.payload["principal_id"] == "key_abc"
        assert entry.payload["request_id"] == "req-42"
        assert "outcome" in entry.payload
    finished = store.entries[-1].payload
    assert finished["tools"] == {"search_kb": {"calls": 1, "errors": 1, "attempts": 3}}
    assert finished["policy"] == {"deny": 1}
    assert finished["approvals"] == {"approved": 1, "pending": 1}
    assert finished["error_code"] == "boom" and finished["outcome"] == "failed"
    assert store.entries[4].payload["latency_ms"] == 1500.0


async def test_seed_folds_a_resumed_runs_earlier_entries() -> None:
    journal = RunJournal(None, _state())
    earlier = events.policy_decision("call_tool", "tool:x", "allow")
    journal.seed([JournalEntry("resp_1", 1, earlier.kind, 0, 0.0, earlier.payload)])
    assert journal.tally.summary()["policy"] == {"allow": 1}


def test_every_kind_has_a_builder_and_a_stable_name() -> None:
    assert len(set(events.KINDS)) == len(events.KINDS) == 16
    assert all(len(kind) <= 32 for kind in events.KINDS)  # the journal's kind column
    built = events.tool_attempt(0, "t", 2, 10.0, 0.25, "http_503", True, retried=True)
    assert built.payload == {
        "position": 0,
        "tool": "t",
        "attempt": 2,
        "started_at": 10.0,
        "latency_ms": 250.0,
        "outcome": "error",
        "error_type": "http_503",
        "retryable": True,
        "retried": True,
    }
