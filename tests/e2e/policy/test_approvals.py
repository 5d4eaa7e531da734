"""The approval lifecycle, end to end: approve, deny, expiry, single use, mutated
arguments, changed release, four-eyes, the admin API, the client's
``mcp_approval_response``, tenant scoping and a server restart."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2 as httpx
import openai
import pytest
from typer.testing import CliRunner

from pilothouse.cli.main import app
from pilothouse.testing import FakeUpstream, RecordingToolGateway, ServerThread
from pilothouse.testing.hijacked import directive
from tests.conftest import TEST_API_KEY
from tests.e2e.identity.conftest import raw_for
from tests.e2e.policy.conftest import executed, guarded_services, guarded_settings, journal
from tests.scrape import sample

REFUND = {"account": "acct-7", "amount_cents": 20000}


def _ask(
    sdk: openai.OpenAI, agent: str = "guarded", arguments: dict[str, Any] = REFUND, **body: Any
) -> Any:
    return sdk.responses.create(
        model=f"agent:{agent}", input="Refund please. " + directive("refund", arguments), **body
    )


def _waiting(response: Any) -> Any:
    found = [i for i in response.output if i.type == "mcp_approval_request"]
    assert len(found) == 1, response.output
    return found[0]


def _answer(
    sdk: openai.OpenAI,
    previous: str,
    approval_id: str,
    approve: bool,
    agent: str = "guarded",
    **body: Any,
) -> Any:
    item = {
        "type": "mcp_approval_response",
        "approval_request_id": approval_id,
        "approve": approve,
        "reason": "checked",
    }
    return sdk.responses.create(
        model=f"agent:{agent}", previous_response_id=previous, input=[item], **body
    )


def _refunds(ledger: RecordingToolGateway, since: int) -> list[dict[str, Any]]:
    return [args for name, args in executed(ledger, since) if name == "refund"]


def test_approve_through_the_client(
    guarded_server: ServerThread, guarded: openai.OpenAI, ledger: RecordingToolGateway
) -> None:
    since = len(ledger.calls)
    paused = _ask(guarded)
    assert paused.status == "completed"
    request = _waiting(paused)
    assert (request.name, request.server_label) == ("refund", "guarded")
    assert _refunds(ledger, since) == []
    resumed = _answer(guarded, paused.id, request.id, True)
    assert resumed.status == "completed"
    assert _refunds(ledger, since) == [REFUND]
    call = next(i for i in resumed.output if i.type == "mcp_call")
    assert (call.name, call.approval_request_id, call.error) == ("refund", request.id, None)
    entries = journal(guarded_server, paused.id)
    kinds = [e.kind for e in entries]
    assert {"approval.requested", "approval.decided", "approval.used"} <= set(kinds)
    outcomes = [e.payload["outcome"] for e in entries if e.kind.startswith("approval.")]
    assert outcomes == ["pending", "approved", "used"]
    # Single use: answering the same request again runs nothing.
    again = _answer(guarded, paused.id, request.id, True)
    assert _refunds(ledger, since) == [REFUND]
    failed = next(i for i in again.output if i.type == "mcp_call")
    assert failed.error.startswith("approval_not_valid")


def test_deny_through_the_client(guarded: openai.OpenAI, ledger: RecordingToolGateway) -> None:
    since = len(ledger.calls)
    paused = _ask(guarded)
    answered = _answer(guarded, paused.id, _waiting(paused).id, False)
    assert answered.status == "completed"
    assert _refunds(ledger, since) == []
    call = next(i for i in answered.output if i.type == "mcp_call")
    assert call.error == "approval_denied: checked"


def test_streamed_pause_and_continuation(
    guarded: openai.OpenAI, ledger: RecordingToolGateway
) -> None:
    since = len(ledger.calls)
    kinds = []
    with guarded.responses.create(
        model="agent:guarded", input=directive("refund", REFUND), stream=True
    ) as events:
        for event in events:
            kinds.append(event.type)
            if event.type == "response.completed":
                paused = event.response
    assert kinds[-1] == "response.completed"
    request = _waiting(paused)
    with guarded.responses.create(
        model="agent:guarded",
        previous_response_id=paused.id,
        input=[
            {"type": "mcp_approval_response", "approval_request_id": request.id, "approve": True}
        ],
        stream=True,
    ) as events:
        done = [e.response for e in events if e.type == "response.completed"]
    assert _refunds(ledger, since) == [REFUND]
    assert any(i.type == "mcp_call" and i.output for i in done[0].output)


def test_expired_approval_is_not_used(
    guarded_server: ServerThread, guarded: openai.OpenAI, ledger: RecordingToolGateway
) -> None:
    since = len(ledger.calls)
    paused = _ask(guarded)
    approvals = guarded_server.services.approvals
    assert approvals is not None
    approvals.clock = lambda: time.time() + 7200  # past the agent's one-hour TTL
    try:
        answered = _answer(guarded, paused.id, _waiting(paused).id, True)
    finally:
        approvals.clock = time.time
    assert _refunds(ledger, since) == []
    call = next(i for i in answered.output if i.type == "mcp_call")
    assert call.error == "approval_not_valid: the approval is expired"


def test_mutated_arguments_and_changed_release_are_not_approved(
    guarded_server: ServerThread,
    guarded: openai.OpenAI,
    admin: httpx.Client,
    ledger: RecordingToolGateway,
) -> None:
    since = len(ledger.calls)
    paused = _ask(guarded)
    request = _waiting(paused)
    assert admin.post(f"/admin/v1/approvals/{request.id}/approve", json={}).status_code == 200
    other = _ask(guarded, arguments={**REFUND, "amount_cents": 20001})
    assert _waiting(other).id != request.id  # the new arguments need their own approval
    assert _refunds(ledger, since) == []
    approvals = guarded_server.services.approvals
    assert approvals is not None
    approval = guarded_server.run(approvals.get("default", request.id))
    problem = guarded_server.run(approvals.consume(approval, "refund", REFUND, "rel_new", "r"))
    assert problem == "the tool's release changed since the approval"
    problem = guarded_server.run(
        approvals.consume(approval, "refund", {**REFUND, "amount_cents": 1}, None, "r")
    )
    assert problem == "the arguments differ from the approved ones"
    assert guarded_server.run(approvals.get("default", request.id)).status == "approved"


def test_four_eyes(
    guarded: openai.OpenAI,
    admin: httpx.Client,
    guarded_server: ServerThread,
    key_for: Callable[..., str],
    ledger: RecordingToolGateway,
) -> None:
    since = len(ledger.calls)
    paused = _ask(guarded, agent="careful")
    request = _waiting(paused)
    with pytest.raises(openai.PermissionDeniedError) as caught:
        _answer(guarded, paused.id, request.id, True, agent="careful")
    assert caught.value.code == "self_approval_forbidden"
    refused = admin.post(f"/admin/v1/approvals/{request.id}/approve", json={"reason": "me"})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "self_approval_forbidden"
    assert _refunds(ledger, since) == []
    with raw_for(guarded_server, key_for("default", "approve")) as approver:
        decided = approver.post(
            f"/admin/v1/approvals/{request.id}/approve", json={"reason": "verified by phone"}
        )
    assert decided.status_code == 200, decided.text
    body = decided.json()
    assert (body["status"], body["reason"], body["continuation_response_id"]) == (
        "approved",
        "verified by phone",
        None,
    )
    resumed = _answer(guarded, paused.id, request.id, True, agent="careful")
    assert resumed.status == "completed"
    assert _refunds(ledger, since) == [REFUND]


def test_background_run_resumes_after_admin_approval(
    guarded_server: ServerThread,
    guarded: openai.OpenAI,
    key_for: Callable[..., str],
    ledger: RecordingToolGateway,
) -> None:
    since = len(ledger.calls)
    started = _ask(guarded, background=True)
    paused = _settled(guarded, started.id)
    request = _waiting(paused)
    with raw_for(guarded_server, key_for("default", "approve")) as approver:
        pending = approver.get("/admin/v1/approvals", params={"status": "pending"}).json()
        assert request.id in [a["id"] for a in pending["data"]]
        decided = approver.post(
            f"/admin/v1/approvals/{request.id}/approve", json={"reason": "ok"}
        ).json()
        again = approver.post(f"/admin/v1/approvals/{request.id}/approve", json={})
        assert again.status_code == 409
    continuation = decided["continuation_response_id"]
    assert continuation
    finished = _settled(guarded, continuation)
    assert finished.status == "completed"
    assert _refunds(ledger, since) == [REFUND]
    assert any(
        i.type == "mcp_call" and i.approval_request_id == request.id for i in finished.output
    )


def test_approvals_are_tenant_scoped_and_need_the_approve_role(
    guarded_server: ServerThread,
    guarded: openai.OpenAI,
    key_for: Callable[..., str],
    ledger: RecordingToolGateway,
) -> None:
    since = len(ledger.calls)
    paused = _ask(guarded)
    request = _waiting(paused)
    with raw_for(guarded_server, key_for("other-tenant", "approve", "invoke")) as stranger:
        assert stranger.get(f"/admin/v1/approvals/{request.id}").status_code == 404
        assert stranger.post(f"/admin/v1/approvals/{request.id}/approve").status_code == 404
        item = {"type": "mcp_approval_response", "approval_request_id": request.id, "approve": True}
        answer = stranger.post("/v1/responses", json={"model": "agent:guarded", "input": [item]})
        assert answer.status_code == 404
    invoker = openai.OpenAI(
        base_url=guarded_server.base_url, api_key=key_for("default", "invoke"), max_retries=0
    )
    with invoker, pytest.raises(openai.PermissionDeniedError) as caught:
        _answer(invoker, paused.id, request.id, True)
    assert caught.value.code == "approval_not_permitted"
    assert _refunds(ledger, since) == []
    approvals = guarded_server.services.approvals
    assert approvals is not None
    assert guarded_server.run(approvals.get("default", request.id)).status == "pending"


def test_approval_survives_a_restart(
    store_url: str, upstream_server: FakeUpstream, tmp_path: Path
) -> None:
    ledger = RecordingToolGateway(
        {"refund": lambda account, amount_cents: {"refunded": amount_cents}}
    )
    settings = guarded_settings(store_url, upstream_server, tmp_path)
    first = ServerThread(settings, guarded_services(settings, ledger)).start()
    try:
        with openai.OpenAI(base_url=first.base_url, api_key=TEST_API_KEY, max_retries=0) as sdk:
            paused = _ask(sdk)
    finally:
        first.stop()
    second = ServerThread(settings, guarded_services(settings, ledger)).start()
    try:
        with openai.OpenAI(base_url=second.base_url, api_key=TEST_API_KEY, max_retries=0) as sdk:
            resumed = _answer(sdk, paused.id, _waiting(paused).id, True)
    finally:
        second.stop()
    assert resumed.status == "completed"
    assert [c.name for c in ledger.calls] == ["refund"]


def _settled(sdk: openai.OpenAI, response_id: str) -> Any:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = sdk.responses.retrieve(response_id)
        if found.status not in ("queued", "in_progress"):
            return found
        time.sleep(0.05)
    raise AssertionError(f"{response_id} did not finish")


def test_cli_approves_on_the_store_and_the_client_carries_on(
    guarded_server: ServerThread, guarded: openai.OpenAI, ledger: RecordingToolGateway
) -> None:
    since = len(ledger.calls)
    paused = _ask(guarded, agent="careful")  # four-eyes: the CLI user is another principal
    request = _waiting(paused)
    store = guarded_server.settings.store
    listed = _cli("approvals", "list", "--tenant", "default", "--store", store)
    assert request.id in [a["id"] for a in listed]
    denied_elsewhere = CliRunner().invoke(
        app, ["approvals", "approve", request.id, "--tenant", "other", "--store", store]
    )
    assert denied_elsewhere.exit_code != 0
    decided = _cli("approvals", "approve", request.id, "--reason", "ok", "--store", store)
    assert decided["status"] == "approved"
    assert str(decided["decided_by"]).startswith("cli:")
    resumed = _answer(guarded, paused.id, request.id, True, agent="careful")
    assert resumed.status == "completed"
    assert _refunds(ledger, since) == [REFUND]


def _cli(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _pending_gauge(server: ServerThread) -> float:
    found = sample(server.root_url, "pilothouse_approvals_pending")
    assert found is not None, "no pilothouse_approvals_pending series"
    return found


def test_pending_approvals_are_a_metric(
    guarded_server: ServerThread, guarded: openai.OpenAI
) -> None:
    paused = _ask(guarded)
    waiting = _pending_gauge(guarded_server)
    assert waiting >= 1  # this one, and any other test's still undecided
    _answer(guarded, paused.id, _waiting(paused).id, False)
    assert _pending_gauge(guarded_server) == waiting - 1


def test_approved_arguments_are_sealed_at_rest(
    guarded_server: ServerThread, guarded: openai.OpenAI, ledger: RecordingToolGateway
) -> None:
    """The one place arguments must stay usable is sealed: the approvals table holds them
    encrypted under the data key, and the approved call still runs them exactly."""
    arguments = {"account": "acct-canary-4417", "amount_cents": 20000}
    since = len(ledger.calls)
    paused = _ask(guarded, arguments=arguments)
    request = _waiting(paused)
    raw_store = guarded_server.services.store.approvals  # under the sealing wrapper
    row = guarded_server.run(raw_store.get_approval("default", request.id))
    assert row is not None and row.arguments.startswith("fernet:")
    assert "acct-canary-4417" not in row.arguments
    _answer(guarded, paused.id, request.id, True)
    assert _refunds(ledger, since) == [arguments]
