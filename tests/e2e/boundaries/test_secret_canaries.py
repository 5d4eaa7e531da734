"""Secret canaries (issue 5): known values — the provider key, a tool's auth header, PII,
and client API keys (the bootstrap key every test client presents, and a key minted for
the run, sent as a credential and pasted into the input) — are pushed through a
representative set of requests, and must occur 0 times in the captured logs, in a dump of
every column of every table, in every stored response a client can read back, and in the
exported traces (JSONL, with message and tool content on).

The canaries are also proven to have been *used* (the upstream received the provider key,
the tool server the auth header), so a test that never touched them cannot pass.
"""

from __future__ import annotations

import time
from typing import Any

import httpx2 as httpx
import openai

from pilothouse.testing import FakeUpstream
from tests.e2e.boundaries.conftest import (
    CARD,
    EMAIL,
    IBAN,
    PHONE,
    PROVIDER_KEY,
    TOOL_TOKEN,
    BoundaryServer,
    all_canaries,
    database_dump,
    leaks,
)
from tests.e2e.wire import stream_events

EVERYTHING = f"Me: {EMAIL}, {PHONE}, card {CARD}, IBAN {IBAN}, keys {PROVIDER_KEY} {TOOL_TOKEN}."


def representative_traffic(
    sdk: openai.OpenAI, raw: httpx.Client, upstream: FakeUpstream
) -> tuple[list[str], list[str]]:
    """Requests of every kind, each carrying the canaries; returns the response ids and
    the conversation ids created."""
    ids: list[str] = []
    plain = sdk.responses.create(model="gpt-4o-mini", input=EVERYTHING, metadata={"who": EMAIL})
    ids.append(plain.id)
    ids.append(sdk.responses.create(model="upstream/gpt-4o", input=EVERYTHING).id)
    events = stream_events(
        raw,
        "POST",
        "/v1/responses",
        json={"model": "upstream/gpt-4o", "input": EVERYTHING, "stream": True},
    )
    ids.append(events[-1]["response"]["id"])
    ids.append(
        sdk.responses.create(
            model="gpt-4o-mini", input=EVERYTHING, previous_response_id=plain.id
        ).id
    )
    conversation = sdk.conversations.create(
        items=[{"type": "message", "role": "user", "content": EVERYTHING}],
        metadata={"customer": EMAIL},
    )
    sdk.conversations.items.create(
        conversation.id, items=[{"type": "message", "role": "user", "content": EVERYTHING}]
    )
    ids.append(
        sdk.responses.create(model="agent:relay", input=EVERYTHING, conversation=conversation.id).id
    )
    events = stream_events(
        raw,
        "POST",
        "/v1/responses",
        json={"model": "agent:relay", "input": EVERYTHING, "stream": True},
    )
    ids.append(events[-1]["response"]["id"])
    ids.append(sdk.responses.create(model="agent:leaker", input=EVERYTHING).id)
    ids.append(sdk.responses.create(model="agent:shouter", input=EVERYTHING).id)
    # An upstream that echoes the key in its error (as OpenAI's 401 does), in the
    # background, so the failure is stored.
    upstream.fail(401, message=f"Incorrect API key provided: {PROVIDER_KEY}.")
    background = sdk.responses.create(model="upstream/gpt-4o", input=EVERYTHING, background=True)
    ids.append(background.id)
    _wait_until_done(raw, background.id)
    return ids, [conversation.id]


def _wait_until_done(raw: httpx.Client, response_id: str) -> None:
    for _ in range(200):
        if raw.get(f"/v1/responses/{response_id}").json()["status"] not in (
            "queued",
            "in_progress",
        ):
            return
        time.sleep(0.05)
    raise AssertionError(f"{response_id} did not finish")


def readable(raw: httpx.Client, response_ids: list[str], conversation_ids: list[str]) -> str:
    """Everything a client can read back: responses, replays, input items, journals,
    conversations and their items."""
    parts: list[Any] = []
    for response_id in response_ids:
        parts += [
            raw.get(f"/v1/responses/{response_id}").text,
            raw.get(f"/v1/responses/{response_id}", params={"stream": "true"}).text,
            raw.get(f"/v1/responses/{response_id}/input_items").text,
            raw.get(f"/admin/v1/runs/{response_id}/journal").text,
        ]
    for conversation_id in conversation_ids:
        parts += [
            raw.get(f"/v1/conversations/{conversation_id}").text,
            raw.get(f"/v1/conversations/{conversation_id}/items", params={"limit": 100}).text,
        ]
    return "\n".join(parts)


def test_canaries_never_reach_logs_database_or_stored_responses(
    sdk: openai.OpenAI, raw: httpx.Client, boundary: BoundaryServer, upstream: FakeUpstream
) -> None:
    minted = raw.post("/admin/v1/keys", json={"roles": ["invoke"], "name": "canary"})
    assert minted.status_code == 201
    client_key = minted.json()["key"]
    response_ids, conversation_ids = representative_traffic(sdk, raw, upstream)
    with openai.OpenAI(base_url=str(sdk.base_url), api_key=client_key, max_retries=0) as own:
        pasted = own.responses.create(model="gpt-4o-mini", input=f"my key is {client_key}")
        response_ids.append(pasted.id)
    # The canaries were live: the upstream got the provider key, the tool its header.
    assert any(
        r.headers.get("authorization") == f"Bearer {PROVIDER_KEY}" for r in upstream.requests
    )
    assert any(
        r.headers.get("authorization") == f"Bearer {TOOL_TOKEN}" for r in boundary.tools.requests
    )
    assert "looking up customer" in boundary.logs  # the careless tool did log
    canaries = {**all_canaries(), "minted client key": client_key}
    assert leaks(boundary.logs, canaries) == []
    traces = boundary.traces()
    assert '"invoke_agent relay"' in traces and "gen_ai.input.messages" in traces
    assert leaks(traces, canaries) == []
    assert leaks(database_dump(boundary.store_url), canaries) == []
    stored = readable(raw, response_ids, conversation_ids)
    assert leaks(stored, canaries) == []
    assert "[REDACTED:secret]" in stored and "[email:" in stored


def test_an_upstream_error_that_echoes_the_key_is_not_passed_on(
    sdk: openai.OpenAI, raw: httpx.Client, boundary: BoundaryServer, upstream: FakeUpstream
) -> None:
    upstream.fail(401, message=f"Incorrect API key provided: {PROVIDER_KEY}.")
    answer = raw.post("/v1/responses", json={"model": "upstream/gpt-4o", "input": "hi"})
    assert answer.status_code >= 400
    assert PROVIDER_KEY not in answer.text
    assert leaks(boundary.logs, all_canaries()) == []
