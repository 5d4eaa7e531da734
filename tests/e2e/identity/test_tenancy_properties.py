"""Tenant isolation as a property (hypothesis stateful): random sequences of creates, reads,
lists, streams, cancels, deletes and approvals by two tenants and a key that gets revoked.

Properties checked after every step:

* a tenant reads, lists, streams, cancels, deletes and chains only what it created; the
  other tenant's ids answer 404, exactly like ids that never existed, and change nothing;
* the revoked key answers 401 from the request right after its revocation, on every path;
* what a tenant owns stays as it left it, whatever the other tenant tried.

Size: ``make test`` runs a smoke size (a few examples of ~20 steps); ``make test-full``
(``PILOTHOUSE_PROPERTY_SCALE=full``) runs hundreds of longer sequences.

Approvals: a rule starts a run of an agent whose tool needs approval (the guarded test
bundle, its model obeying the directive in the input); ``approve`` and ``deny`` expect 404
for a foreign tenant's approval, 200 once for one's own and 409 after it was decided; the
pending list shows only one's own.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from typing import Any

import httpx2 as httpx
import orjson
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from pilothouse.testing import ServerThread
from pilothouse.testing.hijacked import directive
from tests.conftest import auth_headers
from tests.e2e.policy.conftest import guarded_server, ledger  # noqa: F401 (fixtures)

FULL = os.environ.get("PILOTHOUSE_PROPERTY_SCALE") == "full"
SIZE = settings(
    max_examples=300 if FULL else 12,
    stateful_step_count=50 if FULL else 20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
ACTORS = st.sampled_from(["a", "b", "r"])  # tenant A, tenant B, A's key that gets revoked


@dataclass
class Owned:
    """Something a tenant created, as the model of the system remembers it."""

    id: str
    tenant: str
    deleted: bool = False
    background: bool = False
    items: int = 0
    decided: bool = False


class Tenancy(RuleBasedStateMachine):
    """The model: who owns what, and whether the third key is revoked yet."""

    root_url = ""  # set per server by the test
    responses = Bundle("responses")
    conversations = Bundle("conversations")
    approvals = Bundle("approvals")

    @initialize()
    def keys(self) -> None:
        self.admin = httpx.Client(base_url=self.root_url, headers=auth_headers(), timeout=30)
        self.tenants = {"a": f"ta-{uuid.uuid4().hex[:8]}", "b": f"tb-{uuid.uuid4().hex[:8]}"}
        self.tenants["r"] = self.tenants["a"]
        self.key_ids: dict[str, str] = {}
        self.clients: dict[str, httpx.Client] = {}
        for actor in ("a", "b", "r"):
            key, self.key_ids[actor] = self._mint(self.tenants[actor])
            self.clients[actor] = httpx.Client(
                base_url=self.root_url, headers=auth_headers(key), timeout=30
            )
        self.revoked = False
        self.approval_tenants: dict[str, str] = {}

    def teardown(self) -> None:
        for client in getattr(self, "clients", {}).values():
            client.close()
        if hasattr(self, "admin"):
            self.admin.close()

    def _mint(self, tenant: str) -> tuple[str, str]:
        roles = ["invoke", "approve"]
        made = self.admin.post("/admin/v1/keys", json={"tenant": tenant, "roles": roles})
        assert made.status_code == 201, made.text
        return str(made.json()["key"]), str(made.json()["id"])

    # -- helpers -----------------------------------------------------------------------

    def _call(self, actor: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        answer = self.clients[actor].request(method, path, **kwargs)
        if actor == "r" and self.revoked:
            assert answer.status_code == 401, (path, answer.text)
            assert answer.json()["error"]["code"] == "invalid_api_key"
        return answer

    def _expect(self, actor: str, thing: Owned, answer: httpx.Response) -> bool:
        """Whether ``actor`` may act on ``thing``; asserts the 404 when it may not."""
        if actor == "r" and self.revoked:
            return False
        if self.tenants[actor] != thing.tenant or thing.deleted:
            assert answer.status_code == 404, answer.text
            assert answer.json()["error"]["type"] == "invalid_request_error"
            return False
        assert answer.status_code == 200, answer.text
        return True

    def _allowed(self, actor: str) -> bool:
        return not (actor == "r" and self.revoked)

    def _mine(self, actor: str, thing: Owned) -> bool:
        return self._allowed(actor) and self.tenants[actor] == thing.tenant and not thing.deleted

    # -- creates -----------------------------------------------------------------------

    @rule(target=responses, actor=ACTORS, background=st.booleans(), stream=st.booleans())
    def create_response(self, actor: str, background: bool, stream: bool) -> Any:
        body = {"model": "gpt-4o-mini", "input": f"note from {actor}"}
        body.update(background=background, stream=stream)
        answer = self._call(actor, "POST", "/v1/responses", json=body)
        if not self._allowed(actor):
            return Owned("resp_never", self.tenants[actor], deleted=True)
        assert answer.status_code == 200, answer.text
        found = _frames(answer)[0]["response"] if stream else answer.json()
        return Owned(found["id"], self.tenants[actor], background=background)

    @rule(target=conversations, actor=ACTORS, n=st.integers(0, 3))
    def create_conversation(self, actor: str, n: int) -> Any:
        items = [{"type": "message", "role": "user", "content": f"m{i}"} for i in range(n)]
        answer = self._call(actor, "POST", "/v1/conversations", json={"items": items})
        if not self._allowed(actor):
            return Owned("conv_never", self.tenants[actor], deleted=True)
        assert answer.status_code == 200, answer.text
        return Owned(answer.json()["id"], self.tenants[actor], items=n)

    @rule(target=responses, actor=ACTORS, previous=responses)
    def chain(self, actor: str, previous: Owned) -> Any:
        body = {"model": "gpt-4o-mini", "input": "go on", "previous_response_id": previous.id}
        answer = self._call(actor, "POST", "/v1/responses", json=body)
        never = Owned("resp_never", self.tenants[actor], deleted=True)
        if previous.background and self._mine(actor, previous):
            # Its own background response may still be running (400 until it finishes).
            assert answer.status_code in (200, 400), answer.text
            return Owned(answer.json()["id"], previous.tenant) if answer.is_success else never
        if not self._expect(actor, previous, answer):
            return never
        return Owned(answer.json()["id"], self.tenants[actor])

    @rule(actor=ACTORS, conversation=conversations)
    def respond_in_conversation(self, actor: str, conversation: Owned) -> None:
        body = {"model": "gpt-4o-mini", "input": "hi", "conversation": conversation.id}
        answer = self._call(actor, "POST", "/v1/responses", json=body)
        if self._expect(actor, conversation, answer):
            conversation.items += 1 + len(answer.json()["output"])

    @rule(actor=ACTORS, conversation=conversations, n=st.integers(1, 2))
    def add_items(self, actor: str, conversation: Owned, n: int) -> None:
        items = [{"type": "message", "role": "user", "content": "more"}] * n
        path = f"/v1/conversations/{conversation.id}/items"
        if self._expect(
            actor, conversation, self._call(actor, "POST", path, json={"items": items})
        ):
            conversation.items += n

    # -- reads -------------------------------------------------------------------------

    @rule(actor=ACTORS, response=responses)
    def get_response(self, actor: str, response: Owned) -> None:
        answer = self._call(actor, "GET", f"/v1/responses/{response.id}")
        if self._expect(actor, response, answer):
            assert answer.json()["id"] == response.id

    @rule(actor=ACTORS, response=responses)
    def list_input_items(self, actor: str, response: Owned) -> None:
        answer = self._call(actor, "GET", f"/v1/responses/{response.id}/input_items")
        if self._expect(actor, response, answer):
            assert answer.json()["object"] == "list"

    @rule(actor=ACTORS, response=responses)
    def stream_response(self, actor: str, response: Owned) -> None:
        path = f"/v1/responses/{response.id}"
        answer = self._call(actor, "GET", path, params={"stream": "true"})
        if self._expect(actor, response, answer):
            frames = _frames(answer)
            assert frames and all(
                f["response"]["id"] == response.id for f in frames if "response" in f
            )

    @rule(actor=ACTORS, conversation=conversations)
    def get_conversation(self, actor: str, conversation: Owned) -> None:
        answer = self._call(actor, "GET", f"/v1/conversations/{conversation.id}")
        if self._expect(actor, conversation, answer):
            assert answer.json()["id"] == conversation.id

    @rule(actor=ACTORS, conversation=conversations)
    def list_conversation_items(self, actor: str, conversation: Owned) -> None:
        path = f"/v1/conversations/{conversation.id}/items"
        answer = self._call(actor, "GET", path, params={"limit": 100})
        if self._expect(actor, conversation, answer):
            assert len(answer.json()["data"]) == min(conversation.items, 100)

    # -- writes ------------------------------------------------------------------------

    @rule(actor=ACTORS, response=responses)
    def cancel(self, actor: str, response: Owned) -> None:
        answer = self._call(actor, "POST", f"/v1/responses/{response.id}/cancel")
        if self._mine(actor, response) and not response.background:
            assert answer.status_code == 400  # only background responses can be cancelled
            return
        self._expect(actor, response, answer)

    @rule(actor=ACTORS, response=consumes(responses))
    def delete_response(self, actor: str, response: Owned) -> None:
        answer = self._call(actor, "DELETE", f"/v1/responses/{response.id}")
        if self._expect(actor, response, answer):
            response.deleted = True

    @rule(actor=ACTORS, conversation=consumes(conversations))
    def delete_conversation(self, actor: str, conversation: Owned) -> None:
        answer = self._call(actor, "DELETE", f"/v1/conversations/{conversation.id}")
        if self._expect(actor, conversation, answer):
            conversation.deleted = True

    # -- approvals ---------------------------------------------------------------------

    @rule(target=approvals, actor=ACTORS)
    def request_approval(self, actor: str) -> Any:
        note = directive("add_note", {"ticket_id": "INC-1", "text": f"from {actor}"})
        body = {"model": "agent:guarded", "input": note}
        answer = self._call(actor, "POST", "/v1/responses", json=body)
        if not self._allowed(actor):
            return Owned("mcpr_never", self.tenants[actor], deleted=True)
        assert answer.status_code == 200, answer.text
        found = [i for i in answer.json()["output"] if i["type"] == "mcp_approval_request"]
        assert len(found) == 1, answer.text
        self.approval_tenants[found[0]["id"]] = self.tenants[actor]
        return Owned(found[0]["id"], self.tenants[actor])

    @rule(actor=ACTORS, approval=approvals, approve=st.booleans())
    def decide(self, actor: str, approval: Owned, approve: bool) -> None:
        verb = "approve" if approve else "deny"
        path = f"/admin/v1/approvals/{approval.id}/{verb}"
        answer = self._call(actor, "POST", path, json={"reason": "property test"})
        if self._mine(actor, approval) and approval.decided:
            assert answer.status_code == 409, answer.text
            return
        if self._expect(actor, approval, answer):
            approval.decided = True

    @rule(actor=ACTORS, approval=approvals)
    def get_approval(self, actor: str, approval: Owned) -> None:
        answer = self._call(actor, "GET", f"/admin/v1/approvals/{approval.id}")
        self._expect(actor, approval, answer)

    @rule(actor=ACTORS)
    def list_pending(self, actor: str) -> None:
        answer = self._call(actor, "GET", "/admin/v1/approvals", params={"status": "pending"})
        if self._allowed(actor):
            assert answer.status_code == 200, answer.text
            listed = [a["id"] for a in answer.json()["data"]]
            assert all(self.approval_tenants.get(i) == self.tenants[actor] for i in listed)

    @rule()
    def revoke(self) -> None:
        if self.revoked:
            return
        revoked = self.admin.post(f"/admin/v1/keys/{self.key_ids['r']}/revoke")
        assert revoked.status_code == 200, revoked.text
        self.revoked = True

    @invariant()
    def revoked_key_is_refused(self) -> None:
        if getattr(self, "revoked", False):
            assert self._call("r", "GET", "/v1/models").status_code == 401


def _frames(answer: httpx.Response) -> list[dict[str, Any]]:
    """The events of an SSE body."""
    lines = answer.text.splitlines()
    return [orjson.loads(line[6:]) for line in lines if line.startswith("data: ")]


@pytest.mark.timeout(1800 if FULL else 120)
def test_tenants_never_see_each_other(guarded_server: ServerThread) -> None:  # noqa: F811
    """On the guarded bundle's server, so that runs can wait for approvals."""
    machine = type("TenancyOnServer", (Tenancy,), {"root_url": guarded_server.root_url})
    run_state_machine_as_test(machine, settings=SIZE)
