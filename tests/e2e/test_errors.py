"""Errors: the wire envelope, statuses and ``param`` values, and every error class the SDK
maps a status to. Bad input changes nothing."""

from __future__ import annotations

from typing import Any

import httpx2 as httpx
import openai
import pytest

from pilothouse.testing import FakeUpstream
from tests.conftest import TEST_API_KEY


def _error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    error: dict[str, Any] = body["error"]
    return error


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "no model"}, "model"),
        ({"model": "m", "input": "x", "temperature": 3}, "temperature"),
        ({"model": "m", "input": "x", "top_p": -1}, "top_p"),
        ({"model": "m", "input": "x", "max_output_tokens": 0}, "max_output_tokens"),
        ({"model": "m", "input": "x", "tool_choice": "sometimes"}, "tool_choice"),
        ({"model": "m", "input": "x", "truncation": "maybe"}, "truncation"),
        ({"model": "m", "input": [{"role": "robot", "content": "x"}]}, "input[0].role"),
        ({"model": "m", "input": [{"role": "user", "content": 5}]}, "input[0].content"),
        ({"model": "m", "input": [{"type": "function_call_output"}]}, "input[0].call_id"),
        ({"model": "m", "input": "x", "tools": [{"type": "function"}]}, "tools[0].name"),
        (
            {"model": "m", "input": "x", "tools": [{"type": "function", "name": "bad name"}]},
            "tools[0].name",
        ),
        ({"model": "m", "input": "x", "metadata": {str(i): "v" for i in range(17)}}, "metadata"),
        ({"model": "m", "input": "x", "metadata": {"k": "v" * 513}}, "metadata"),
        ({"model": "m", "input": "x", "text": {"format": {"type": "json_schema"}}}, "text"),
        ({"model": "m", "input": "x", "background": True, "store": False}, "background"),
    ],
)
def test_invalid_requests_are_400_with_param(
    http: httpx.Client, body: dict[str, Any], param: str
) -> None:
    response = http.post("/v1/responses", json=body)
    assert response.status_code == 400, response.text
    error = _error(response)
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert error["message"]


def test_not_json_and_not_an_object(http: httpx.Client) -> None:
    for content in (b"{not json", b"[1, 2]", b""):
        response = http.post(
            "/v1/responses", content=content, headers={"content-type": "application/json"}
        )
        assert response.status_code == 400
        assert _error(response)["code"] == "invalid_json"


def test_unknown_path_and_method(http: httpx.Client) -> None:
    missing = http.get("/v1/nothing-here")
    assert missing.status_code == 404 and _error(missing)["code"] == "unknown_url"
    wrong = http.put("/v1/responses")
    assert wrong.status_code == 405 and _error(wrong)["message"]


def test_bad_requests_change_nothing(client: openai.OpenAI, http: httpx.Client) -> None:
    conversation = client.conversations.create()
    bad = http.post(
        "/v1/responses",
        json={"model": "m", "input": [{"role": "robot"}], "conversation": conversation.id},
    )
    assert bad.status_code == 400
    assert list(client.conversations.items.list(conversation.id)) == []


def test_sdk_error_classes(client: openai.OpenAI, upstream: FakeUpstream) -> None:
    with pytest.raises(openai.BadRequestError) as bad:
        client.responses.create(model="m", input="x", temperature=9)
    assert bad.value.status_code == 400 and bad.value.param == "temperature"
    with pytest.raises(openai.NotFoundError) as missing:
        client.responses.retrieve("resp_does_not_exist")
    assert missing.value.code == "not_found"
    upstream.fail(429, message="slow down", code="rate_limit_exceeded", retry_after=3)
    with pytest.raises(openai.RateLimitError) as limited:
        client.responses.create(model="upstream/gpt-4o-mini", input="x")
    assert limited.value.response.headers["retry-after"] == "3"
    assert limited.value.code == "rate_limit_exceeded"
    upstream.fail(500, message="upstream exploded")
    with pytest.raises(openai.InternalServerError) as broken:
        client.responses.create(model="upstream/gpt-4o-mini", input="x")
    assert broken.value.status_code == 500
    upstream.fail(401, message="bad upstream key", code="invalid_api_key")
    with pytest.raises(openai.AuthenticationError):
        client.responses.create(model="upstream/gpt-4o-mini", input="x")
    upstream.fail(403, message="not for you", type="permission_error")
    with pytest.raises(openai.PermissionDeniedError):
        client.responses.create(model="upstream/gpt-4o-mini", input="x")
    upstream.fail(503, message="overloaded", retry_after=2)
    with pytest.raises(openai.InternalServerError) as unavailable:
        client.responses.create(model="upstream/gpt-4o-mini", input="x")
    assert unavailable.value.status_code == 503
    assert unavailable.value.response.headers["retry-after"] == "2"


def test_streaming_create_refused_upstream_is_an_http_error(
    client: openai.OpenAI, upstream: FakeUpstream
) -> None:
    upstream.fail(429, message="slow down", retry_after=1)
    with pytest.raises(openai.RateLimitError):
        client.responses.create(model="upstream/gpt-4o-mini", input="x", stream=True)


def test_timeout_and_connection_errors(server: Any, upstream: FakeUpstream) -> None:
    upstream.latency_s = 2.0
    with (
        openai.OpenAI(
            base_url=server.base_url, api_key=TEST_API_KEY, max_retries=0, timeout=0.3
        ) as slow,
        pytest.raises(openai.APITimeoutError),
    ):
        slow.responses.create(model="upstream/gpt-4o-mini", input="x")
    upstream.latency_s = 0.0
    with (
        openai.OpenAI(
            base_url="http://127.0.0.1:9/v1", api_key=TEST_API_KEY, max_retries=0
        ) as nowhere,
        pytest.raises(openai.APIConnectionError),
    ):
        nowhere.responses.create(model="m", input="x")


def test_sdk_retries_a_throttled_create(server: Any, upstream: FakeUpstream) -> None:
    upstream.fail(429, message="slow down", retry_after=0)
    with openai.OpenAI(base_url=server.base_url, api_key=TEST_API_KEY, max_retries=2) as patient:
        response = patient.responses.create(model="upstream/gpt-4o-mini", input="x")
    assert response.status == "completed"
    assert len(upstream.calls()) == 2
