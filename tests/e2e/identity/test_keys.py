"""API keys end to end: every endpoint but health needs one, roles gate paths, keys are
created once, stored only as digests, and a revocation holds from the next request on."""

from __future__ import annotations

from collections.abc import Callable

import httpx2 as httpx
import openai
import pytest

from pilothouse.testing import ServerThread
from tests.e2e.identity.conftest import MakeKey, raw_for


def test_health_is_public_and_everything_else_needs_a_key(server: ServerThread) -> None:
    with httpx.Client(base_url=server.root_url, timeout=10) as anonymous:
        assert anonymous.get("/healthz").status_code == 200
        assert anonymous.get("/readyz").status_code == 200
        for method, path in [
            ("POST", "/v1/responses"),
            ("GET", "/v1/responses/resp_x"),
            ("GET", "/v1/models"),
            ("POST", "/v1/conversations"),
            ("GET", "/admin/v1/kill-switches"),
            ("GET", "/admin/v1/keys"),
            ("GET", "/openapi.json"),
        ]:
            answer = anonymous.request(method, path)
            assert answer.status_code == 401, path
            assert answer.headers["www-authenticate"].startswith("Bearer")
            assert answer.json()["error"] == {
                "message": "No API key provided. Send it as 'Authorization: Bearer <key>'.",
                "type": "authentication_error",
                "param": None,
                "code": "missing_api_key",
            }


def test_a_wrong_key_is_an_sdk_authentication_error(server: ServerThread) -> None:
    with (
        openai.OpenAI(base_url=server.base_url, api_key="phk_nope_wrong", max_retries=0) as bad,
        pytest.raises(openai.AuthenticationError) as caught,
    ):
        bad.responses.create(model="gpt-4o-mini", input="hi")
    error = caught.value.body
    assert isinstance(error, dict) and error["code"] == "invalid_api_key"
    assert "wrong" not in error["message"]  # the key is masked, never echoed


def test_created_key_works_once_shown_and_revocation_is_immediate(
    make_key: MakeKey, sdk_for: Callable[[str], openai.OpenAI], http: httpx.Client
) -> None:
    created = make_key("acme", "invoke", name="ci")
    key = created["key"]
    assert key.startswith("phk_") and created["prefix"] == key[:12]
    assert created["tenant"] == "acme" and created["roles"] == ["invoke"]
    client = sdk_for(key)
    assert client.responses.create(model="gpt-4o-mini", input="hi").status == "completed"

    listed = http.get("/admin/v1/keys", params={"tenant": "acme"}).json()["data"]
    mine = next(k for k in listed if k["id"] == created["id"])
    assert "key" not in mine and "digest" not in mine and mine["revoked_at"] is None

    revoked = http.post(f"/admin/v1/keys/{created['id']}/revoke")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    with pytest.raises(openai.AuthenticationError):
        client.responses.create(model="gpt-4o-mini", input="hi")


def test_azure_style_api_key_header_is_accepted(make_key: MakeKey, server: ServerThread) -> None:
    key = make_key("acme", "invoke")["key"]
    with httpx.Client(base_url=server.root_url, headers={"api-key": key}) as azure:
        answer = azure.post("/v1/responses", json={"model": "gpt-4o-mini", "input": "hi"})
    assert answer.status_code == 200


def test_roles_gate_paths(make_key: MakeKey, server: ServerThread) -> None:
    invoker = make_key("acme", "invoke")["key"]
    operator = make_key("acme", "operate")["key"]
    with raw_for(server, invoker) as http:
        denied = http.get("/admin/v1/kill-switches")
        assert denied.status_code == 403
        assert denied.json()["error"]["code"] == "missing_role"
        assert denied.json()["error"]["type"] == "permission_error"
    with raw_for(server, operator) as http:
        assert http.get("/admin/v1/kill-switches").status_code == 200
        assert http.get("/admin/v1/keys").status_code == 403
        refused = http.post("/v1/responses", json={"model": "gpt-4o-mini", "input": "hi"})
        assert refused.status_code == 403


def test_a_tenant_admin_manages_only_its_own_tenant(
    make_key: MakeKey, server: ServerThread
) -> None:
    admin = make_key("acme", "admin")["key"]
    foreign = make_key("globex", "invoke")
    with raw_for(server, admin) as http:
        own = http.post("/admin/v1/keys", json={"roles": ["invoke"]})
        assert own.status_code == 201 and own.json()["tenant"] == "acme"
        other = http.post("/admin/v1/keys", json={"tenant": "globex", "roles": ["invoke"]})
        assert other.status_code == 403 and other.json()["error"]["code"] == "foreign_tenant"
        assert {k["tenant"] for k in http.get("/admin/v1/keys").json()["data"]} == {"acme"}
        missing = http.post(f"/admin/v1/keys/{foreign['id']}/revoke")
        assert missing.status_code == 404
    with raw_for(server, foreign["key"]) as http:  # still valid: the revoke changed nothing
        assert http.get("/v1/models").status_code == 200


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"tenant": "acme", "roles": []}, "roles"),
        ({"tenant": "acme", "roles": ["root"]}, "roles"),
        ({"tenant": "acme"}, "roles"),
        ({"tenant": "bad tenant!", "roles": ["invoke"]}, "tenant"),
        ({"tenant": "acme", "roles": ["invoke"], "scopes": {"planets": []}}, "scopes"),
        ({"tenant": "acme", "roles": ["invoke"], "scopes": {"agents": "a"}}, "scopes.agents"),
    ],
)
def test_bad_key_requests_are_400_with_param(
    http: httpx.Client, body: dict[str, object], param: str
) -> None:
    before = len(http.get("/admin/v1/keys").json()["data"])
    answer = http.post("/admin/v1/keys", json=body)
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == param
    assert len(http.get("/admin/v1/keys").json()["data"]) == before
