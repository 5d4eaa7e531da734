"""The shipped faulty tool server itself: its ledger, fault targeting, and thread mode."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import aiohttp
import pytest

from pilothouse.testing.tool_server import FaultyToolServer


async def post(session: aiohttp.ClientSession, url: str, body: Any, key: str | None) -> Any:
    headers = {"Idempotency-Key": key} if key else {}
    async with session.post(url, json=body, headers=headers) as response:
        return response.status, await response.json()


async def test_the_ledger_applies_an_effect_once_per_key(tool_server: FaultyToolServer) -> None:
    async with aiohttp.ClientSession() as session:
        first = await post(session, tool_server.url + "/notes", {"text": "a"}, "k1")
        again = await post(session, tool_server.url + "/notes", {"text": "a"}, "k1")
        unkeyed = [await post(session, tool_server.url + "/notes", {"text": "b"}, None)]
        unkeyed.append(await post(session, tool_server.url + "/notes", {"text": "b"}, None))
    assert first == again == (201, {"note_id": "N-1", "ticket_id": None, "text": "a"})
    assert [note["note_id"] for _, note in unkeyed] == ["N-2", "N-3"]
    assert tool_server.effects == 3


async def test_faults_can_target_one_path(tool_server: FaultyToolServer) -> None:
    tool_server.fail("status", status=500, path="/notes")
    async with aiohttp.ClientSession() as session:
        async with session.get(tool_server.url + "/tickets/T-1") as response:
            assert response.status == 200
        status, body = await post(session, tool_server.url + "/notes", {"text": "a"}, "k")
    assert status == 500 and body["error"]["message"] == "injected fault"
    assert tool_server.effects == 0


def test_it_runs_in_a_thread_for_synchronous_callers() -> None:
    server = FaultyToolServer().start_in_thread()
    try:
        request = urllib.request.Request(
            server.url + "/notes",
            data=json.dumps({"text": "sync"}).encode(),
            headers={"Content-Type": "application/json", "Idempotency-Key": "s1"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert json.load(response)["text"] == "sync"
        server.fail("status", status=429, retry_after=3)
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(server.url + "/tickets/T-1", timeout=5)
        assert caught.value.code == 429 and caught.value.headers["retry-after"] == "3"
        caught.value.close()
    finally:
        server.stop_thread()
    assert server.effects == 1 and [r.path for r in server.requests] == ["/notes", "/tickets/T-1"]
