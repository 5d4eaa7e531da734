"""The policy gate and its journal event, the stored principal, approval binding, and
policy files checked with the bundle."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from pilothouse.control.bundle import BundleError, load_bundle
from pilothouse.control.principal import Principal, Scopes
from pilothouse.runtime.agent.policy_gate import (
    NOBODY,
    PolicyGate,
    policy_event,
    principal_from_json,
    principal_to_json,
)
from pilothouse.runtime.approvals import ApprovalService, arguments_digest, canonical_arguments
from pilothouse.storage.approvals import StoredApproval

BUNDLE = Path(__file__).parents[2] / "fixtures" / "bundles" / "guarded"
INVOKER = Principal("key_1", "acme", frozenset({"invoke"}))


@pytest.fixture(scope="module")
def gate() -> PolicyGate:
    return PolicyGate(load_bundle(BUNDLE), "rel_1", "prod")


def test_tool_decisions_cite_the_bundle_policies(gate: PolicyGate) -> None:
    denied = gate.authorize(INVOKER, "call_tool", ("tool", "delete_account"), agent="guarded")
    assert denied.outcome.value == "deny"
    assert denied.policy_names == ("no-account-deletion",)
    wait = gate.authorize(
        INVOKER,
        "call_tool",
        ("tool", "refund"),
        agent="guarded",
        arguments={"account": "a", "amount_cents": 20000},
    )
    assert wait.outcome.value == "needs_approval"
    held = gate.authorize(
        INVOKER,
        "call_tool",
        ("tool", "refund"),
        agent="guarded",
        arguments={"account": "a", "amount_cents": 20000},
        approved=True,
    )
    assert held.allowed


def test_each_tenant_has_its_own_engine_and_the_shared_cache_stays_bounded() -> None:
    from pilothouse.control.policy import EngineCache

    shared = EngineCache(size=1)
    gate = PolicyGate(load_bundle(BUNDLE), "rel_1", "prod", cache=lambda: shared)
    acme = gate.engine("acme")
    assert gate.engine("acme") is acme  # asked again: the same engine, built once
    globex = gate.engine("globex")
    assert globex is not acme and globex.catalog.tenant == "globex"
    assert len(shared) == 1  # the gate keeps one engine of its own, not one per tenant
    again = gate.engine("acme")  # rebuilt by the shared cache, which had dropped it
    assert again is not globex and again.catalog.tenant == "acme"


def test_the_journal_event_names_what_was_decided(gate: PolicyGate) -> None:
    decision = gate.authorize(INVOKER, "use_model", ("model", "banned-model"), agent="guarded")
    event = policy_event(decision, ("model", "banned-model"))
    assert event["action"] == "use_model"
    assert (event["resource_type"], event["resource_id"]) == ("model", "banned-model")
    assert event["outcome"] == "deny"
    assert event["principal"] == "key_1"
    assert event["policy_names"] == ["no-banned-model"]
    assert event["policy_ids"] and event["reason"].startswith("denied by")


class _Journal:
    """Collects what is emitted (the one journal method a gate calls)."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    def emit(self, event: Any) -> None:
        self.events.append(event)


def test_a_decision_seen_again_is_journaled_with_the_event_made_for_it(
    gate: PolicyGate,
) -> None:
    journal = _Journal()
    first = gate.authorize(INVOKER, "use_model", ("model", "banned-model"), agent="guarded")
    again = gate.authorize(INVOKER, "use_model", ("model", "banned-model"), agent="guarded")
    assert again is first  # the engine's cache
    for decision, resource in [
        (first, ("model", "banned-model")),
        (again, ("model", "banned-model")),
        (first, ("model", "other-name")),
    ]:
        gate.record(journal, decision, resource)  # type: ignore[arg-type]
    made, reused, other = journal.events
    assert reused is made
    assert made.payload == policy_event(first, ("model", "banned-model"))
    assert other.payload["resource_id"] == "other-name"


def test_a_run_without_a_stored_principal_is_not_allowed_anything(gate: PolicyGate) -> None:
    nobody = principal_from_json(None, "acme")
    assert nobody.key_id == NOBODY and not nobody.roles
    decision = gate.authorize(nobody, "invoke_agent", ("agent", "guarded"), agent="guarded")
    assert decision.outcome.value == "deny"


def test_principal_round_trip_keeps_roles_and_scopes() -> None:
    principal = Principal(
        "key_9", "acme", frozenset({"invoke", "approve"}), Scopes(agents=frozenset({"a"}))
    )
    stored = principal_to_json(principal)
    assert stored is not None
    assert principal_from_json(stored, "other") == principal


def test_approval_binding() -> None:
    arguments = {"b": 1, "a": [1, 2]}
    assert canonical_arguments(arguments) == '{"a":[1,2],"b":1}'
    approval = StoredApproval(
        id="mcpr_1",
        tenant="acme",
        run_id="resp_1",
        agent="guarded",
        server_label="guarded",
        tool="refund",
        arguments=canonical_arguments(arguments),
        arguments_digest=arguments_digest(arguments),
        release_id="rel_1",
        requested_by="key_1",
        four_eyes=False,
        status="approved",
        created_at=0,
        expires_at=10,
    )
    service = ApprovalService(store=None)  # type: ignore[arg-type]
    assert service.binding_problem(approval, "refund", {"a": [1, 2], "b": 1}, "rel_1") is None
    assert service.binding_problem(approval, "refund", {"a": [1], "b": 1}, "rel_1")
    assert service.binding_problem(approval, "refund", arguments, "rel_2")
    assert service.binding_problem(approval, "delete_account", arguments, "rel_1")


def test_bundle_policy_problems_name_file_and_line(tmp_path: Path) -> None:
    root = tmp_path / "bundle"
    shutil.copytree(BUNDLE, root)
    (root / "policies" / "bad.cedar").write_text(
        '\n\npermit (principal, action == Pilothouse::Action::"nope", resource);\n'
    )
    with pytest.raises(BundleError) as caught:
        load_bundle(root)
    assert any(
        p.file == "policies/bad.cedar" and p.message.startswith("line 3:")
        for p in caught.value.problems
    )
