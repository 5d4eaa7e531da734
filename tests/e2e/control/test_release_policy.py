"""Publish and promote are authorized by Cedar as the key's principal: a key scoped to
one environment promotes only there, and a bundle's own policies can restrict who
publishes it; a refusal is a 403 that changes nothing."""

from __future__ import annotations

from pathlib import Path

import httpx2 as httpx

from pilothouse.control.releases import snapshot
from pilothouse.testing import ServerThread
from tests.e2e.control.conftest import make_version


def _key(admin: httpx.Client, *roles: str, **body: object) -> str:
    created = admin.post("/admin/v1/keys", json={"roles": list(roles), **body})
    assert created.status_code == 201, created.text
    return str(created.json()["key"])


def _as(server: ServerThread, key: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.root_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )


def test_promote_outside_the_key_scope_is_refused(
    release_server: ServerThread, admin: httpx.Client, tmp_path: Path
) -> None:
    bundle = make_version(tmp_path, "7", "Greet the user warmly, policy test.")
    files = {"files": snapshot(bundle), "message": "policy test"}
    key = _key(admin, "operate", scopes={"environments": ["staging"]})
    with _as(release_server, key) as operator:
        published = operator.post("/admin/v1/releases", json=files)
        assert published.status_code in (200, 201), published.text
        release = published.json()["id"]
        before = admin.get("/admin/v1/environments/prod/history").json()["data"]
        refused = operator.post("/admin/v1/environments/prod/promote", json={"release": release})
        assert refused.status_code == 403
        error = refused.json()["error"]
        assert (error["type"], error["code"]) == ("permission_error", "policy_denied")
        assert "promote-outside-key-scope" in error["message"]
        assert admin.get("/admin/v1/environments/prod/history").json()["data"] == before
        allowed = operator.post("/admin/v1/environments/staging/promote", json={"release": release})
        assert allowed.status_code == 200, allowed.text


def test_a_bundle_policy_can_restrict_publishing(
    release_server: ServerThread, admin: httpx.Client, tmp_path: Path
) -> None:
    bundle = make_version(tmp_path, "8", "Greet the user warmly, locked.")
    (bundle / "policies").mkdir()
    (bundle / "policies" / "release.cedar").write_text(
        '@id("only-admins-publish")\n'
        'forbid (principal, action == Pilothouse::Action::"publish", resource)\n'
        'unless { principal.roles.contains("admin") };\n'
    )
    files = {"files": snapshot(bundle), "message": "locked"}
    with _as(release_server, _key(admin, "operate")) as operator:
        refused = operator.post("/admin/v1/releases", json=files)
    assert refused.status_code == 403
    assert "only-admins-publish" in refused.json()["error"]["message"]
    with _as(release_server, _key(admin, "operate", "admin")) as manager:
        assert manager.post("/admin/v1/releases", json=files).status_code in (200, 201)
