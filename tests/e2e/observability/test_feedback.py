"""``POST /v1/responses/{id}/feedback`` end to end: the SDK creates a response, its raw
HTTP client grades it; bad input gets a wire-format error that changes nothing."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from pilothouse.testing import ServerThread
from tests.conftest import auth_headers


def _post(client: openai.OpenAI, response_id: str, body: Any) -> Any:
    return client.post(
        f"/responses/{response_id}/feedback",
        body=body,
        cast_to=dict,
        options={"headers": auth_headers()},
    )


def _feedback(client: openai.OpenAI, response_id: str) -> list[dict[str, Any]]:
    found: dict[str, Any] = client.get(f"/responses/{response_id}/feedback", cast_to=dict)
    return list(found["data"])


def test_client_feedback_is_stored_in_order(client: openai.OpenAI) -> None:
    response = client.responses.create(model="gpt-4o-mini", input="Grade me")
    first = _post(client, response.id, {"score": 1, "label": "good", "comment": "Spot on."})
    assert first["object"] == "response.feedback" and first["id"].startswith("fb_")
    assert (first["response_id"], first["source"], first["score"]) == (response.id, "client", 1.0)
    _post(client, response.id, {"score": -0.5})
    _post(client, response.id, {"label": "wrong", "source": "eval"})
    stored = _feedback(client, response.id)
    assert [(f["score"], f["label"], f["source"]) for f in stored] == [
        (1.0, "good", "client"),
        (-0.5, None, "client"),
        (None, "wrong", "eval"),
    ]
    assert stored[0]["comment"] == "Spot on."


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"score": 2}, "score", "invalid_value"),
        ({"score": -1.01}, "score", "invalid_value"),
        ({"score": "high"}, "score", "invalid_type"),
        ({"score": True}, "score", "invalid_type"),
        ({"comment": "no grade"}, "score", "missing_required_parameter"),
        ({"label": ""}, "label", "invalid_value"),
        ({"label": "x" * 65}, "label", "invalid_value"),
        ({"label": 5}, "label", "invalid_type"),
        ({"score": 0, "comment": "y" * 4001}, "comment", "invalid_value"),
        ({"score": 0, "source": "admin"}, "source", "invalid_value"),
        ([1, 2], None, "invalid_type"),
    ],
)
def test_bad_feedback_is_a_wire_error_that_changes_nothing(
    client: openai.OpenAI, body: Any, param: str | None, code: str
) -> None:
    response = client.responses.create(model="gpt-4o-mini", input="Grade me badly")
    with pytest.raises(openai.BadRequestError) as caught:
        _post(client, response.id, body)
    error = caught.value.body
    assert isinstance(error, dict)
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param, code)
    assert error["message"]
    assert _feedback(client, response.id) == []


def test_feedback_on_an_unknown_response_is_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        _post(client, "resp_" + "0" * 48, {"score": 1})
    error = caught.value.body
    assert isinstance(error, dict)
    assert (error["param"], error["code"]) == ("response_id", "not_found")
    with pytest.raises(openai.NotFoundError):
        _feedback(client, "resp_" + "0" * 48)


def test_feedback_is_tenant_scoped(server: ServerThread, client: openai.OpenAI) -> None:
    """A response of another tenant is indistinguishable from one that does not exist."""
    response = client.responses.create(model="gpt-4o-mini", input="Mine")
    record = server.run(server.services.store.get_response("default", response.id))
    assert record is not None
    record.id, record.tenant = "resp_" + "f" * 48, "someone-else"
    server.run(server.services.store.insert_response(record))
    with pytest.raises(openai.NotFoundError):
        _post(client, record.id, {"score": 1})
    outcomes = server.services.outcomes
    assert outcomes is not None
    assert server.run(outcomes.feedback("someone-else", record.id)) == []


def test_invalid_json_is_a_wire_error(client: openai.OpenAI, server: ServerThread) -> None:
    import httpx2 as httpx

    response = client.responses.create(model="gpt-4o-mini", input="raw")
    with httpx.Client(base_url=server.root_url, headers=auth_headers(), timeout=30) as http:
        sent = http.post(
            f"/v1/responses/{response.id}/feedback",
            content=b"{not json",
            headers={"content-type": "application/json"},
        )
    assert sent.status_code == 400
    assert sent.json()["error"]["code"] == "invalid_json"
