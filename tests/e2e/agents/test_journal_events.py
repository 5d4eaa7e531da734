"""Journal events (schema v2) of one full agent run, pinned by a golden file.

The run goes through the real server, the real tool gateway (python adapters of the test
bundle) and the offline model. What varies between runs (ids, times, latencies) is
normalised; everything else — kinds, order, payload keys, tokens, cost, outcomes — must
match ``tests/golden/journal_v2_run.json``. After an intended change of the journal,
regenerate it with ``PILOTHOUSE_UPDATE_SNAPSHOTS=1`` and review the diff; a field may be
added, a name never changes (resume and replay read them).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import orjson
import pytest

from pilothouse.runtime.agent import events
from pilothouse.runtime.agent.recovery import initial_state, rebuild
from pilothouse.storage.base import JOURNAL_SCHEMA_VERSION, JournalEntry, StoredRun
from pilothouse.testing import FakeUpstream, ServerThread
from tests.conftest import auth_headers, server_settings
from tests.e2e.agents.conftest import BUNDLE
from tests.e2e.wire import parse_sse

GOLDEN = Path(__file__).parents[2] / "golden" / "journal_v2_run.json"
QUESTION = "Check ticket INC-24531 and summarize next action."
_ID = re.compile(r"\b(resp|msg|fc|call|mcpl|mcp|fco|ph)[_-][0-9a-f]{24,64}\b")
_VARYING = {"at", "started_at", "latency_ms", "latency_s", "request_id"}


def _normalise(value: Any, key: str = "") -> Any:
    if key in _VARYING and value is not None:
        return f"<{key}>"
    if isinstance(value, dict):
        return {k: _normalise(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    if isinstance(value, str):
        return _ID.sub(lambda m: f"{m.group(1)}_<id>", value)
    return value


@pytest.fixture(scope="module")
def real_gateway_server(
    upstream_server: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerThread]:
    """The desk bundle on SQLite with the real tool gateway (so attempts are journaled)."""
    tmp = tmp_path_factory.mktemp("journal")
    base = server_settings(f"sqlite:///{tmp / 'journal.db'}", upstream_server, tmp)
    thread = ServerThread(base.model_copy(update={"bundle": BUNDLE})).start()
    yield thread
    thread.stop()


def _journal(
    server: ServerThread, model: str, stream: bool = False
) -> tuple[str, list[dict[str, Any]]]:
    body = {"model": model, "input": QUESTION, "stream": stream}
    with httpx.Client(base_url=server.root_url, headers=auth_headers(), timeout=30) as http:
        response = http.post("/v1/responses", json=body)
        assert response.status_code == 200, response.text
        if stream:
            run_id = parse_sse(response.content)[-1]["response"]["id"]
        else:
            run_id = response.json()["id"]
        entries = http.get(f"/admin/v1/runs/{run_id}/journal").json()["data"]
    return run_id, entries


def _rendered(entries: list[dict[str, Any]]) -> Any:
    return _normalise([{k: v for k, v in e.items() if k != "run_id"} for e in entries])


def test_one_full_run_matches_the_golden_journal(real_gateway_server: ServerThread) -> None:
    _, entries = _journal(real_gateway_server, "agent:priced")
    assert {e["schema_version"] for e in entries} == {JOURNAL_SCHEMA_VERSION}
    assert all(e["kind"] in events.KINDS for e in entries)
    rendered = _rendered(entries)
    if os.environ.get("PILOTHOUSE_UPDATE_SNAPSHOTS") == "1":
        GOLDEN.write_bytes(orjson.dumps(rendered, option=orjson.OPT_INDENT_2) + b"\n")
    assert GOLDEN.exists(), "no golden journal; run with PILOTHOUSE_UPDATE_SNAPSHOTS=1"
    assert orjson.loads(GOLDEN.read_bytes()) == rendered


def test_a_streamed_run_journals_exactly_the_same(real_gateway_server: ServerThread) -> None:
    """Same events, usage and cost whether the client streams or not."""
    _, entries = _journal(real_gateway_server, "agent:priced", stream=True)
    assert _rendered(entries) == orjson.loads(GOLDEN.read_bytes())


def test_every_entry_carries_the_run_context_and_figures(
    real_gateway_server: ServerThread,
) -> None:
    _, entries = _journal(real_gateway_server, "agent:priced")
    for entry in entries:
        payload = entry["payload"]
        assert payload["agent"] == "priced"
        assert payload["request_id"]  # minted at ingress, stamped everywhere
        assert "principal_id" in payload and "release_id" in payload
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        by_kind.setdefault(entry["kind"], []).append(entry["payload"])
    model_calls = by_kind["model.completed"]
    assert all(m["latency_ms"] >= 0 and m["usage"]["input_tokens"] > 0 for m in model_calls)
    assert all(m["cost_usd"] > 0 for m in model_calls)
    attempts = by_kind["tool.attempt"]
    assert [(a["tool"], a["attempt"], a["outcome"]) for a in attempts] == [
        ("get_ticket_status", 1, "ok"),
        ("search_kb", 1, "ok"),
    ]
    finished = by_kind["run.finished"][0]
    assert finished["tools"] == {
        "get_ticket_status": {"calls": 1, "errors": 0, "attempts": 1},
        "search_kb": {"calls": 1, "errors": 0, "attempts": 1},
    }
    assert finished["cost_usd"] == pytest.approx(sum(m["cost_usd"] for m in model_calls))
    assert finished["latency_ms"] >= sum(m["latency_ms"] for m in model_calls)


def test_the_golden_journal_still_rebuilds_the_run() -> None:
    """Resume and replay read the journal: the golden file must still fold into a state."""
    golden = orjson.loads(GOLDEN.read_bytes())
    entries = [
        JournalEntry(
            run_id="resp_golden",
            seq=e["seq"],
            kind=e["kind"],
            step=e["step"],
            at=0.0,
            payload=e["payload"],
            schema_version=e["schema_version"],
        )
        for e in golden
    ]
    spec = {
        "agent": {
            "name": "priced",
            "model": "gpt-4o-mini",
            "tools": ["get_ticket_status", "search_kb"],
        },
        "limits": {},
        "instructions": None,
        "history": [],
        "client_tools": [],
        "options": {},
        "headers": {},
        "model": "gpt-4o-mini",
        "started_at": 0.0,
    }
    run = StoredRun("resp_golden", "default", "priced", "1", "completed", 0, 0, "{}")
    state = initial_state(run, spec)
    rebuilt = rebuild(state, spec, entries)
    assert rebuilt.finished is not None and rebuilt.finished["status"] == "completed"
    assert [i["type"] for i in state.output] == [
        "mcp_list_tools",
        "mcp_call",
        "mcp_call",
        "message",
    ]
    assert state.step == 2 and not rebuilt.pending
    assert state.cost_usd == pytest.approx(golden[-1]["payload"]["cost_usd"])
