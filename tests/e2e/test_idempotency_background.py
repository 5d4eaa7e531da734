"""``Idempotency-Key`` on create, and background responses: poll, cancel, live streams."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import httpx2 as httpx
import openai
import pytest

from pilothouse.testing import FakeUpstream
from tests.conftest import TEST_API_KEY
from tests.e2e.wire import parse_sse, stream_events


def _key() -> dict[str, str]:
    return {"Idempotency-Key": f"key-{uuid.uuid4()}"}


def test_same_key_and_body_returns_the_same_response(
    client: openai.OpenAI, upstream: FakeUpstream
) -> None:
    headers = _key()
    first = client.responses.create(
        model="upstream/gpt-4o-mini", input="charge once", extra_headers=headers
    )
    second = client.responses.create(
        model="upstream/gpt-4o-mini", input="charge once", extra_headers=headers
    )
    assert second.id == first.id
    assert second.output_text == first.output_text
    assert len(upstream.calls()) == 1


def test_same_key_different_body_is_422(client: openai.OpenAI) -> None:
    headers = _key()
    client.responses.create(model="m", input="one", extra_headers=headers)
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        client.responses.create(model="m", input="two", extra_headers=headers)
    assert caught.value.code == "idempotency_key_reused"


def test_same_key_while_in_flight_is_409(server: Any, upstream: FakeUpstream) -> None:
    upstream.latency_s = 1.0
    headers = _key()
    results: dict[str, Any] = {}

    def first_call() -> None:
        with openai.OpenAI(base_url=server.base_url, api_key=TEST_API_KEY, max_retries=0) as sdk:
            results["first"] = sdk.responses.create(
                model="upstream/gpt-4o-mini", input="slow", extra_headers=headers
            )

    thread = threading.Thread(target=first_call)
    thread.start()
    deadline = time.monotonic() + 5
    while not upstream.calls() and time.monotonic() < deadline:
        time.sleep(0.01)
    with (
        openai.OpenAI(base_url=server.base_url, api_key=TEST_API_KEY, max_retries=0) as sdk,
        pytest.raises(openai.ConflictError) as caught,
    ):
        sdk.responses.create(model="upstream/gpt-4o-mini", input="slow", extra_headers=headers)
    assert caught.value.response.headers["retry-after"] == "1"
    thread.join(10)
    assert results["first"].status == "completed"


def test_failed_request_releases_its_key(client: openai.OpenAI, upstream: FakeUpstream) -> None:
    headers = _key()
    upstream.fail(500)
    with pytest.raises(openai.InternalServerError):
        client.responses.create(model="upstream/gpt-4o-mini", input="x", extra_headers=headers)
    retried = client.responses.create(
        model="upstream/gpt-4o-mini", input="x", extra_headers=headers
    )
    assert retried.status == "completed"


def test_idempotent_stream_replays(http: httpx.Client) -> None:
    headers = _key()
    body = {"model": "m", "input": "stream once", "stream": True}
    first = stream_events(http, "POST", "/v1/responses", json=body, headers=headers)
    second = stream_events(http, "POST", "/v1/responses", json=body, headers=headers)
    assert first[-1]["response"]["id"] == second[-1]["response"]["id"]
    assert first[-1]["response"]["output"] == second[-1]["response"]["output"]


def test_idempotency_needs_store(http: httpx.Client) -> None:
    response = http.post(
        "/v1/responses", json={"model": "m", "input": "x", "store": False}, headers=_key()
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "Idempotency-Key"


def _wait_for(client: openai.OpenAI, response_id: str, statuses: set[str]) -> Any:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        response = client.responses.retrieve(response_id)
        if response.status in statuses:
            return response
        time.sleep(0.02)
    raise AssertionError(f"{response_id} never reached {statuses}")


def test_background_response_completes(client: openai.OpenAI) -> None:
    created = client.responses.create(model="m", input="in the background", background=True)
    assert created.status == "queued" and created.background is True
    done = _wait_for(client, created.id, {"completed"})
    assert done.output_text == "You said: in the background"


def test_cancel_background_response(client: openai.OpenAI, upstream: FakeUpstream) -> None:
    upstream.latency_s = 1.5
    created = client.responses.create(model="upstream/gpt-4o-mini", input="slow", background=True)
    cancelled = client.responses.cancel(created.id)
    assert cancelled.status == "cancelled"
    time.sleep(0.1)
    assert client.responses.retrieve(created.id).status == "cancelled"
    again = client.responses.cancel(created.id)
    assert again.status == "cancelled"


def test_cancel_foreground_response_is_rejected(client: openai.OpenAI) -> None:
    response = client.responses.create(model="m", input="x")
    with pytest.raises(openai.BadRequestError):
        client.responses.cancel(response.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.cancel("resp_missing")


def test_background_stream_can_be_followed_and_resumed(
    http: httpx.Client, upstream: FakeUpstream
) -> None:
    upstream.latency_s = 0.3
    body = {
        "model": "upstream/gpt-4o-mini",
        "input": "bg stream",
        "stream": True,
        "background": True,
    }
    live = stream_events(http, "POST", "/v1/responses", json=body)
    assert live[0]["type"] == "response.created"
    assert live[-1]["type"] == "response.completed"
    response_id = live[-1]["response"]["id"]
    resumed = http.get(
        f"/v1/responses/{response_id}", params={"stream": "true", "starting_after": 2}
    )
    events = parse_sse(resumed.content)
    assert events[0]["sequence_number"] == 3
    assert events[-1]["response"]["output"] == live[-1]["response"]["output"]
