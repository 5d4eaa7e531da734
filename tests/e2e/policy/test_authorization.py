"""Authorization outside the model: ``invoke_agent`` before anything is stored,
``use_model`` before each model call, ``on_deny: end``, and the principal a run keeps
for resume — on streaming and non-streaming paths."""

from __future__ import annotations

from collections.abc import Callable

import openai
import orjson
import pytest

from pilothouse.testing import RecordingToolGateway, ServerThread
from pilothouse.testing.hijacked import directive
from tests.conftest import TEST_API_KEY
from tests.e2e.policy.conftest import executed, journal


def _sdk(server: ServerThread, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=key, max_retries=0)


@pytest.mark.parametrize("stream", [False, True])
def test_invoke_outside_key_scope_is_refused_and_nothing_is_stored(
    guarded_server: ServerThread, key_for: Callable[..., str], stream: bool
) -> None:
    tenant = f"scoped-{stream}"
    key = key_for(tenant, "invoke", scopes={"agents": ["strict"]})
    journal_store = guarded_server.services.journal
    assert journal_store is not None
    with _sdk(guarded_server, key) as sdk:
        with pytest.raises(openai.PermissionDeniedError) as caught:
            sdk.responses.create(model="agent:guarded", input="hello", stream=stream)
        assert caught.value.status_code == 403
        body = caught.value.body
        assert isinstance(body, dict)
        assert (body["type"], body["code"], body["param"]) == (
            "permission_error",
            "policy_denied",
            "model",
        )
        assert "baseline.agent-outside-key-scope" in body["message"]
        assert guarded_server.run(journal_store.list_runs(tenant, 10)) == []
        allowed = sdk.responses.create(model="agent:strict", input="hello", stream=False)
        assert allowed.status == "completed"


@pytest.mark.parametrize("stream", [False, True])
def test_forbidden_model_ends_the_run_before_any_call(
    guarded_server: ServerThread, guarded: openai.OpenAI, stream: bool
) -> None:
    if stream:
        with guarded.responses.create(
            model="agent:forbidden-model", input="hi", stream=True
        ) as events:
            response = next(e.response for e in events if e.type == "response.incomplete")
    else:
        response = guarded.responses.create(model="agent:forbidden-model", input="hi")
    assert response.status == "incomplete"
    assert response.incomplete_details.reason == "policy_denied"
    assert "no-banned-model" in response.output[-1].content[0].text
    entries = journal(guarded_server, response.id)
    assert not [e for e in entries if e.kind == "model.started"]
    denied = [e.payload for e in entries if e.kind == "policy.decision"]
    assert denied[-1]["action"] == "use_model"
    assert denied[-1]["outcome"] == "deny"
    assert denied[-1]["policy_names"] == ["no-banned-model"]
    assert denied[-1]["principal"] == "key_bootstrap"


def test_on_deny_end_stops_the_run(
    guarded_server: ServerThread, guarded: openai.OpenAI, ledger: RecordingToolGateway
) -> None:
    since = len(ledger.calls)
    response = guarded.responses.create(
        model="agent:strict",
        input=directive("delete_account", {"account": "a"})
        + " "
        + directive("lookup", {"id": "T-1"}),
    )
    assert response.status == "incomplete"
    assert response.incomplete_details.reason == "policy_denied"
    assert executed(ledger, since) == []
    kinds = [i.type for i in response.output]
    assert kinds == ["mcp_list_tools", "mcp_call", "message"]
    assert response.output[1].error.startswith("policy_denied: denied by no-account-deletion")


def test_on_deny_continue_lets_the_model_go_on(
    guarded: openai.OpenAI, ledger: RecordingToolGateway
) -> None:
    since = len(ledger.calls)
    response = guarded.responses.create(
        model="agent:guarded",
        input=directive("delete_account", {"account": "a"})
        + " "
        + directive("lookup", {"id": "T-2"}),
    )
    assert response.status == "completed"
    assert executed(ledger, since) == [("lookup", {"id": "T-2"})]


def test_run_keeps_its_principal_for_resume_without_secrets(
    guarded_server: ServerThread, guarded: openai.OpenAI
) -> None:
    response = guarded.responses.create(model="agent:guarded", input="hello")
    journal_store = guarded_server.services.journal
    assert journal_store is not None
    run = guarded_server.run(journal_store.get_run("default", response.id))
    assert run is not None
    spec = orjson.loads(run.spec)
    assert spec["principal"]["key_id"] == "key_bootstrap"
    assert "invoke" in spec["principal"]["roles"]
    assert TEST_API_KEY not in run.spec
