"""Wire payloads pinned by snapshots, and persisted shapes read from golden fixtures.

Snapshots normalise what varies between runs (ids, timestamps). After an intended change
of the wire shape, regenerate them with ``PILOTHOUSE_UPDATE_SNAPSHOTS=1 make test`` and
review the diff. Golden fixtures are never regenerated: each ``schema_version`` of a stored
response keeps its file, and newer code must still read it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import httpx2 as httpx
import openai
import orjson

from pilothouse.storage.base import StoredResponse
from pilothouse.testing import ServerThread
from tests.e2e.wire import parse_sse

ROOT = Path(__file__).parent.parent
SNAPSHOTS = ROOT / "snapshots"
GOLDEN = ROOT / "golden"
_ID = re.compile(r"\b(resp|msg|fc|call|conv|fco)_[0-9a-f]{48}\b")
_TIMES = ("created_at", "completed_at")


def _normalise(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ("<time>" if k in _TIMES and v else _normalise(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    if isinstance(value, str):
        return _ID.sub(lambda m: f"{m.group(1)}_<id>", value)
    return value


def _match(name: str, payload: Any) -> None:
    path = SNAPSHOTS / f"{name}.json"
    rendered = orjson.dumps(_normalise(payload), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    if os.environ.get("PILOTHOUSE_UPDATE_SNAPSHOTS") == "1":
        path.write_bytes(rendered + b"\n")
    assert path.exists(), f"no snapshot {path.name}; run with PILOTHOUSE_UPDATE_SNAPSHOTS=1"
    assert orjson.loads(path.read_bytes()) == orjson.loads(rendered), f"snapshot {name} changed"


def test_response_object_snapshot(http: httpx.Client) -> None:
    body = {
        "model": "gpt-4o-mini",
        "input": "Snapshot me",
        "instructions": "Be brief.",
        "metadata": {"case": "snapshot"},
        "tools": [{"type": "function", "name": "lookup", "parameters": {"type": "object"}}],
        "tool_choice": "none",
    }
    _match("response_basic", http.post("/v1/responses", json=body).json())


def test_stream_snapshot(http: httpx.Client) -> None:
    raw = http.post(
        "/v1/responses", json={"model": "m", "input": "stream snapshot", "stream": True}
    )
    _match("stream_basic", parse_sse(raw.content))


def test_error_snapshot(http: httpx.Client) -> None:
    _match("error_missing_model", http.post("/v1/responses", json={"input": "x"}).json())


def test_golden_v1_stored_response_is_still_read(
    server: ServerThread, client: openai.OpenAI
) -> None:
    golden = orjson.loads((GOLDEN / "stored_response_v1.json").read_bytes())
    record = StoredResponse(**{**golden, "id": golden["id"] + os.urandom(4).hex()})
    record.resource = record.resource.replace(golden["id"], record.id)
    server.run(server.services.store.insert_response(record))
    fetched = client.responses.retrieve(record.id)
    assert fetched.output_text == "The ticket INC-1 is open."
    follow_up = client.responses.create(model="m", input="and now?", previous_response_id=record.id)
    assert follow_up.status == "completed"
    items = client.responses.input_items.list(record.id)
    assert [i.type for i in items] == ["message"]
