"""Publish, promote, canary and rollback, through the CLI and the admin API, and what a
running server serves as the pointers move."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from typer.testing import CliRunner

from pilothouse.cli.main import app
from pilothouse.control.releases import snapshot
from pilothouse.testing import FakeUpstream, ServerThread
from tests.e2e.control.conftest import make_version, wait_for


@pytest.fixture
def cli(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run ``pilothouse …`` in-process against the test store."""
    monkeypatch.setenv("PILOTHOUSE_RELEASE_CACHE", str(tmp_path / "cli-cache"))
    monkeypatch.setenv(
        "PILOTHOUSE_ENVIRONMENTS",
        json.dumps(["dev", "staging", "prod", "cli-test", "api-test", "canary-test", "gate-test"]),
    )
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, [*args, "--store", store_url])
        assert result.exit_code == code, result.output
        return result.output

    return run


def _published(output: str) -> str:
    return output.strip().split()[-1]


def test_cli_publish_promote_diff_rollback(cli: Any, versions: dict[str, Path]) -> None:
    v1 = _published(cli("release", "publish", str(versions["v1"]), "-m", "first"))
    assert v1.startswith("rel_")
    again = cli("release", "publish", str(versions["v1"]), "-m", "same content")
    assert "unchanged" in again and _published(again) == v1
    v2 = _published(cli("release", "publish", str(versions["v2"]), "-m", "offer help"))
    assert v2 != v1
    listed = json.loads(cli("release", "list"))
    assert {v1, v2} <= {r["id"] for r in listed}
    shown = json.loads(cli("release", "show", v2[:12]))
    assert shown["id"] == v2 and shown["agents"] == {"greeter": "2"}
    diff = json.loads(cli("release", "diff", v1, v2, "--json"))
    change = diff["agents"]["changed"]["greeter"]
    assert "+Greet the user warmly, then offer help." in change["instructions"]
    assert change["version"] == {"from": "1", "to": "2"}
    assert "instructions:" in cli("release", "diff", v1, v2)
    promoted = cli(
        "release", "promote", v1, "--to", "cli-test", "--reason", "launch", "--by", "ada"
    )
    assert "gate bundle: pass" in promoted and "gate golden-journeys: pass" in promoted
    assert "not configured" in promoted  # the golden-journey gate says it checked nothing
    cli("release", "promote", v2, "--to", "cli-test", "--by", "ada")
    rolled = cli("release", "rollback", "cli-test", "--reason", "incident", "--by", "bob")
    assert f"cli-test -> {v1}" in rolled
    cli("release", "rollback", "cli-test", code=1)  # nothing earlier than v1
    history = json.loads(cli("env", "history", "cli-test"))
    assert [(e["action"], e["release_id"], e["actor"]) for e in history] == [
        ("promote", v1, "ada"),
        ("promote", v2, "ada"),
        ("rollback", v1, "bob"),
    ]
    assert history[0]["reason"] == "launch" and history[2]["reason"] == "incident"


def _publish(admin: httpx.Client, root: Path, message: str) -> str:
    response = admin.post("/admin/v1/releases", json={"files": snapshot(root), "message": message})
    assert response.status_code in (200, 201), response.text
    release_id: str = response.json()["id"]
    return release_id


def _served(admin: httpx.Client, environment: str, conversation: str | None = None) -> str | None:
    """The release that served a request (None while the environment serves nothing)."""
    body: dict[str, Any] = {"model": f"agent:greeter@{environment}", "input": "hello"}
    if conversation is not None:
        body["conversation"] = conversation
    response = admin.post("/v1/responses", json=body)
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    release_id: str = response.json()["pilothouse"]["release_id"]
    return release_id


def test_admin_api_moves_what_the_server_serves(
    admin: httpx.Client, versions: dict[str, Path]
) -> None:
    v1 = _publish(admin, versions["v1"], "first")
    v2 = _publish(admin, versions["v2"], "second")
    not_yet = admin.post("/v1/responses", json={"model": "agent:greeter@api-test", "input": "x"})
    assert not_yet.status_code == 404  # nothing promoted to api-test yet
    assert (
        admin.post(
            "/admin/v1/environments/api-test/promote", json={"release": v1, "reason": "launch"}
        ).status_code
        == 200
    )
    wait_for(lambda: _served(admin, "api-test"), v1)
    admin.post("/admin/v1/environments/api-test/promote", json={"release": v2})
    wait_for(lambda: _served(admin, "api-test"), v2)
    response = admin.post(
        "/v1/responses", json={"model": "agent:greeter@api-test", "input": "hello"}
    ).json()
    assert response["pilothouse"]["agent_version"] == "2"
    assert response["pilothouse"]["environment"] == "api-test"
    stored = admin.get(f"/v1/responses/{response['id']}").json()
    assert stored["pilothouse"]["release_id"] == v2  # recorded, visible through GET
    rolled = admin.post("/admin/v1/environments/api-test/rollback", json={"reason": "bad"})
    assert rolled.json()["environment"]["release_id"] == v1
    wait_for(lambda: _served(admin, "api-test"), v1)
    envs = admin.get("/admin/v1/environments").json()["data"]
    assert next(e for e in envs if e["name"] == "api-test")["release_id"] == v1
    diff = admin.get(f"/admin/v1/releases/{v1}/diff/{v2}").json()
    assert "greeter" in diff["agents"]["changed"]


def test_canary_split_and_stickiness(admin: httpx.Client, versions: dict[str, Path]) -> None:
    v1 = _publish(admin, versions["v1"], "stable")
    v2 = _publish(admin, versions["v2"], "candidate")
    admin.post("/admin/v1/environments/canary-test/promote", json={"release": v1})
    canary = admin.post(
        "/admin/v1/environments/canary-test/promote", json={"release": v2, "canary": 20}
    )
    assert canary.status_code == 200, canary.text
    assert canary.json()["environment"]["canary_percent"] == 20
    conversation = admin.post("/v1/conversations", json={}).json()["id"]
    wait_for(lambda: len({_served(admin, "canary-test") for _ in range(40)}), 2)
    served = [_served(admin, "canary-test") for _ in range(1000)]
    share = served.count(v2) / len(served)
    assert abs(share - 0.20) <= 0.05, share
    sticky = {_served(admin, "canary-test", conversation) for _ in range(15)}
    assert len(sticky) == 1  # one conversation stays on one release
    ended = admin.post("/admin/v1/environments/canary-test/rollback", json={})
    assert ended.json()["event"]["action"] == "canary_end"
    wait_for(lambda: {_served(admin, "canary-test") for _ in range(20)}, {v1})


def test_bad_admin_requests(admin: httpx.Client) -> None:
    bad_files = admin.post("/admin/v1/releases", json={"files": "nope", "message": "m"})
    assert bad_files.status_code == 400
    missing = admin.post("/admin/v1/environments/api-test/promote", json={"release": "rel_nope00"})
    assert missing.status_code == 404
    unknown = admin.post("/admin/v1/environments/moon/promote", json={"release": "rel_x"})
    assert unknown.status_code in (400, 404)


def test_server_thread_is_in_release_mode(release_server: ServerThread) -> None:
    assert release_server.settings.bundle is None


def test_in_flight_runs_finish_on_their_release(
    admin: httpx.Client, versions: dict[str, Path], upstream: FakeUpstream, tmp_path: Path
) -> None:
    slow = make_version(tmp_path / "slow", "1", "Greet slowly.")
    agent = slow / "agents" / "greeter.yaml"
    agent.write_text(agent.read_text().replace("model: gpt-4o-mini", "model: upstream/greeter"))
    (slow / "pricing.yaml").write_text("models:\n  upstream/greeter: {input: 1, output: 1}\n")
    v1 = _publish(admin, slow, "slow model")
    v2 = _publish(admin, versions["v2"], "fast model")
    admin.post("/admin/v1/environments/inflight/promote", json={"release": v1})
    wait_for(lambda: _served(admin, "inflight"), v1)
    upstream.latency_s = 1.0
    queued = admin.post(
        "/v1/responses",
        json={"model": "agent:greeter@inflight", "input": "hello", "background": True},
    ).json()
    admin.post("/admin/v1/environments/inflight/promote", json={"release": v2})
    wait_for(lambda: _served(admin, "inflight"), v2)  # new requests moved on
    wait_for(lambda: admin.get(f"/v1/responses/{queued['id']}").json()["status"], "completed")
    finished = admin.get(f"/v1/responses/{queued['id']}").json()
    assert finished["pilothouse"]["release_id"] == v1  # the run kept its release


def test_breaking_contract_change_is_gated(admin: httpx.Client, versions: dict[str, Path]) -> None:
    v1 = _publish(admin, versions["v1"], "lookup takes a ticket id")
    v3 = _publish(admin, versions["v3"], "lookup also needs a tenant")
    admin.post("/admin/v1/environments/gate-test/promote", json={"release": v1})
    refused = admin.post("/admin/v1/environments/gate-test/promote", json={"release": v3})
    assert refused.status_code == 409
    body = refused.json()
    assert body["error"]["code"] == "gate_failed"
    contracts = next(g for g in body["gates"] if g["gate"] == "contracts")
    assert contracts["passed"] is False
    breaking = [c for c in contracts["details"]["changes"] if c["class"] == "breaking"]
    assert breaking and breaking[0]["tool"] == "lookup" and breaking[0]["side"] == "input"
    allowed = admin.post(
        "/admin/v1/environments/gate-test/promote",
        json={
            "release": v3,
            "allow_breaking": "all callers migrated in INC-9",
            "reason": "tenancy",
        },
    )
    assert allowed.status_code == 200, allowed.text
    gates = {g["gate"]: g for g in allowed.json()["gates"]}
    assert gates["contracts"]["passed"] and "INC-9" in gates["contracts"]["notices"][0]
    history = admin.get("/admin/v1/environments/gate-test/history").json()["data"]
    assert [e["release_id"] for e in history] == [v1, v3]  # the refusal moved nothing
