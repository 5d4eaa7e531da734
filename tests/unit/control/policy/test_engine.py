"""Decisions of the engine: per action and role, tenancy, tools, arguments, approvals."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from pilothouse.control.policy import (
    Action,
    Catalog,
    Context,
    Outcome,
    PolicyEngine,
    Principal,
    Resource,
    Scopes,
    cedar,
    parse_policy_files,
)
from pilothouse.control.policy.loader import context_reads
from tests.unit.control.policy.conftest import TENANT, key

INVOKER = key("key_invoke", "invoke")
APPROVER = key("key_approve", "approve")
OPERATOR = key("key_operate", "operate")
ADMIN = key("key_admin", "admin")
NOBODY = key("key_none")
EVERYTHING = key("key_all", "invoke", "approve", "operate", "admin")


def tool_call(tool: str, agent: str = "support-desk", **facts: Any) -> tuple[Resource, Context]:
    """A call_tool resource and context in prod."""
    facts.setdefault("environment", "prod")
    return Resource.tool(tool), Context(agent=agent, **facts)


# ---- each action, each role -------------------------------------------------------------

ROLE_CASES = [
    # (principal, action, resource, context, outcome, determining policy names)
    (INVOKER, Action.INVOKE_AGENT, Resource.agent("support-desk"), Context(), "allow",
     ("baseline.permit-run",)),
    (INVOKER, Action.USE_MODEL, Resource.model("gpt-4o"), Context(), "allow",
     ("baseline.permit-run",)),
    (INVOKER, Action.CALL_TOOL, Resource.tool("search_kb"), Context(agent="faq"), "allow",
     ("baseline.permit-run",)),
    (INVOKER, Action.APPROVE, Resource.tool("refund"), Context(agent="billing"), "deny",
     ("baseline.approve-needs-approve-role",)),
    (INVOKER, Action.PUBLISH, Resource.tenant(TENANT), Context(), "deny",
     ("baseline.release-needs-operate-role",)),
    (INVOKER, Action.PROMOTE, Resource.environment("prod"), Context(), "deny",
     ("baseline.release-needs-operate-role",)),
    (APPROVER, Action.APPROVE, Resource.tool("refund"), Context(agent="billing"), "allow",
     ("baseline.permit-approve",)),
    (APPROVER, Action.INVOKE_AGENT, Resource.agent("billing"), Context(), "deny",
     ("baseline.run-needs-invoke-role",)),
    (APPROVER, Action.PROMOTE, Resource.environment("prod"), Context(), "deny",
     ("baseline.release-needs-operate-role",)),
    (OPERATOR, Action.PUBLISH, Resource.tenant(TENANT), Context(), "allow",
     ("baseline.permit-release",)),
    (OPERATOR, Action.PROMOTE, Resource.environment("staging"), Context(), "allow",
     ("baseline.permit-release",)),
    (OPERATOR, Action.USE_MODEL, Resource.model("gpt-4o"), Context(), "deny",
     ("baseline.run-needs-invoke-role",)),
    (OPERATOR, Action.APPROVE, Resource.tool("refund"), Context(agent="billing"), "deny",
     ("baseline.approve-needs-approve-role",)),
    (ADMIN, Action.PUBLISH, Resource.tenant(TENANT), Context(), "allow",
     ("baseline.permit-release",)),
    (ADMIN, Action.PROMOTE, Resource.environment("prod"), Context(), "allow",
     ("baseline.permit-release",)),
    (ADMIN, Action.INVOKE_AGENT, Resource.agent("faq"), Context(), "deny",
     ("baseline.run-needs-invoke-role",)),
    (NOBODY, Action.INVOKE_AGENT, Resource.agent("faq"), Context(), "deny",
     ("baseline.run-needs-invoke-role",)),
    (NOBODY, Action.CALL_TOOL, Resource.tool("search_kb"), Context(agent="faq"), "deny",
     ("baseline.run-needs-invoke-role",)),
    (NOBODY, Action.PUBLISH, Resource.tenant(TENANT), Context(), "deny",
     ("baseline.release-needs-operate-role",)),
    (EVERYTHING, Action.APPROVE, Resource.tool("search_kb"), Context(agent="faq"), "allow",
     ("baseline.permit-approve",)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("principal", "action", "resource", "context", "outcome", "names"), ROLE_CASES
)
def test_each_action_is_open_to_its_role_only(
    engine: PolicyEngine,
    principal: Principal,
    action: Action,
    resource: Resource,
    context: Context,
    outcome: str,
    names: tuple[str, ...],
) -> None:
    decision = engine.authorize(principal, action, resource, context)
    assert decision.outcome == outcome
    assert decision.policy_names == names
    assert decision.errors == ()


# ---- tenancy -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "resource", "context"),
    [
        (Action.INVOKE_AGENT, Resource.agent("support-desk"), Context()),
        (Action.CALL_TOOL, Resource.tool("search_kb"), Context(agent="faq")),
        (Action.APPROVE, Resource.tool("refund"), Context(agent="billing")),
        (Action.PUBLISH, Resource.tenant(TENANT), Context()),
        (Action.PROMOTE, Resource.environment("prod"), Context()),
    ],
)
def test_a_key_of_another_tenant_is_denied_everything_but_shared_models(
    engine: PolicyEngine, action: Action, resource: Resource, context: Context
) -> None:
    intruder = key("key_globex", "invoke", "approve", "operate", "admin", tenant="globex")
    decision = engine.authorize(intruder, action, resource, context)
    assert decision.outcome is Outcome.DENY
    assert "baseline.tenant-isolation" in decision.policy_names
    shared = engine.authorize(intruder, Action.USE_MODEL, Resource.model("gpt-4o"))
    assert shared.outcome is Outcome.ALLOW


def test_the_other_tenant_is_allowed_in_its_own_catalog(engine: PolicyEngine) -> None:
    agents = tuple(dataclasses.replace(agent, tenant="globex") for agent in engine.catalog.agents)
    globex = PolicyEngine(engine.source, Catalog("globex", agents=agents))
    globex_key = key("key_globex", "invoke", tenant="globex")
    faq = Resource.agent("faq")
    assert globex.authorize(globex_key, Action.INVOKE_AGENT, faq).outcome is Outcome.ALLOW
    assert engine.authorize(globex_key, Action.INVOKE_AGENT, faq).outcome is Outcome.DENY
    assert globex.authorize(INVOKER, Action.INVOKE_AGENT, faq).outcome is Outcome.DENY


# ---- tools by agent membership -----------------------------------------------------------


@pytest.mark.parametrize(
    ("agent", "tool", "outcome"),
    [
        ("support-desk", "get_ticket_status", "allow"),
        ("support-desk", "search_kb", "allow"),
        ("billing", "lookup_invoice", "allow"),
        ("faq", "search_kb", "allow"),
        ("faq", "get_ticket_status", "deny"),
        ("faq", "refund", "deny"),
        ("billing", "get_ticket_status", "deny"),
        ("support-desk", "lookup_invoice", "deny"),
        ("support-desk", "delete_account", "deny"),
    ],
)
def test_an_agent_calls_only_the_tools_it_lists(
    engine: PolicyEngine, agent: str, tool: str, outcome: str
) -> None:
    resource, context = tool_call(tool, agent, environment="dev")
    decision = engine.authorize(INVOKER, Action.CALL_TOOL, resource, context)
    assert decision.outcome == outcome
    if outcome == "deny":
        assert "baseline.tool-not-listed-for-agent" in decision.policy_names


def test_a_tool_unknown_to_the_release_is_denied(engine: PolicyEngine) -> None:
    resource, context = tool_call("rm_rf")
    decision = engine.authorize(INVOKER, Action.CALL_TOOL, resource, context)
    assert decision.outcome is Outcome.DENY
    assert "baseline.tool-not-listed-for-agent" in decision.policy_names


# ---- arguments ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "outcome", "names"),
    [
        ({"amount_cents": 2500}, "allow", ("baseline.permit-run",)),
        ({"amount_cents": 10000}, "allow", ("baseline.permit-run",)),
        ({"amount_cents": 10001}, "needs_approval", ("refund-needs-approval",)),
        ({"amount_cents": 50000}, "needs_approval", ("refund-needs-approval",)),
        ({"amount_cents": 50001}, "deny", ("refund-cap", "refund-needs-approval")),
        ({"amount_cents": 60000.0}, "deny", ("refund-cap", "refund-needs-approval")),
        ({"amount_cents": 10**30}, "deny", ("refund-cap", "refund-needs-approval")),
        ({"amount_cents": "60000"}, "deny", ("refund-cap", "refund-needs-approval")),
        ({}, "deny", ("refund-cap", "refund-needs-approval")),
    ],
)
def test_refunds_are_judged_by_their_amount(
    engine: PolicyEngine, arguments: dict[str, Any], outcome: str, names: tuple[str, ...]
) -> None:
    resource, context = tool_call("refund", "billing", arguments=arguments)
    decision = engine.authorize(INVOKER, Action.CALL_TOOL, resource, context)
    assert decision.outcome == outcome
    assert decision.policy_names == names


def test_a_forbid_that_cannot_be_evaluated_denies_and_says_why(engine: PolicyEngine) -> None:
    resource, context = tool_call("refund", "billing", arguments={"amount_cents": "lots"})
    decision = engine.authorize(INVOKER, Action.CALL_TOOL, resource, context)
    assert decision.outcome is Outcome.DENY
    assert decision.policy_names == ("refund-cap", "refund-needs-approval")
    assert decision.errors == (
        "policies/bundle.cedar:2: type error: expected long, got string",
        "policies/bundle.cedar:8: type error: expected long, got string",
    )
    assert "cannot be evaluated counts as satisfied" in decision.reason


def test_a_string_pattern_on_arguments(engine: PolicyEngine) -> None:
    for to, outcome in [("ap@customer.example", "allow"), ("someone@gmail.com", "deny")]:
        resource, context = tool_call("send_invoice_email", "billing", arguments={"to": to})
        assert engine.authorize(INVOKER, Action.CALL_TOOL, resource, context).outcome == outcome


@pytest.mark.parametrize(
    ("facts", "names"),
    [
        ({"cost_usd_micros": 1_999_999, "tool_call_count": 24}, ()),
        ({"cost_usd_micros": 2_000_000}, ("run-cost-ceiling",)),
        ({"tool_call_count": 25}, ("run-tool-call-ceiling",)),
    ],
)
def test_run_facts_in_the_context(
    engine: PolicyEngine, facts: dict[str, int], names: tuple[str, ...]
) -> None:
    resource, context = tool_call("search_kb", "faq", **facts)
    decision = engine.authorize(INVOKER, Action.CALL_TOOL, resource, context)
    assert decision.outcome == ("deny" if names else "allow")
    if names:
        assert decision.policy_names == names


# ---- data classes and egress -------------------------------------------------------------


@pytest.mark.parametrize(
    ("tool", "agent", "data_classes", "outcome"),
    [
        ("search_kb", "faq", set(), "allow"),
        ("refund", "billing", {"pci"}, "allow"),
        ("refund", "billing", {"pci", "pii"}, "allow"),
        ("refund", "billing", {"health"}, "deny"),
        ("send_invoice_email", "billing", {"pii"}, "allow"),
        ("send_invoice_email", "billing", {"pii", "pci"}, "deny"),
        ("export_customers", "billing", {"pci"}, "deny"),  # also not the agent's
        ("add_incident_note", "support-desk", {"pii"}, "deny"),
        ("lookup_invoice", "billing", {"pci", "health"}, "allow"),  # no egress
    ],
)
def test_egress_tools_receive_only_the_data_classes_they_are_cleared_for(
    engine: PolicyEngine, tool: str, agent: str, data_classes: set[str], outcome: str
) -> None:
    arguments = {"amount_cents": 100, "to": "ap@customer.example"}
    resource, context = tool_call(
        tool, agent, environment="dev", arguments=arguments, data_classes=frozenset(data_classes)
    )
    decision = engine.authorize(INVOKER, Action.CALL_TOOL, resource, context)
    assert decision.outcome == outcome
    if outcome == "deny":
        assert "baseline.egress-of-uncleared-data" in decision.policy_names


# ---- needs approval ------------------------------------------------------------------------


def test_needs_approval_then_allowed_once_approved(engine: PolicyEngine) -> None:
    resource, context = tool_call("add_incident_note", arguments={"text": "call back"})
    asked = engine.authorize(INVOKER, Action.CALL_TOOL, resource, context)
    assert asked.outcome is Outcome.NEEDS_APPROVAL
    assert asked.policy_names == ("prod-notes-need-approval",)
    assert asked.policy_ids == ("policies/bundle.cedar:16",)
    assert asked.reason.startswith("needs approval under prod-notes-need-approval")
    approved = Context(agent=context.agent, environment="prod", approved=True)
    granted = engine.authorize(INVOKER, Action.CALL_TOOL, resource, approved)
    assert granted.outcome is Outcome.ALLOW
    in_dev = Context(agent=context.agent, environment="dev")
    assert engine.authorize(INVOKER, Action.CALL_TOOL, resource, in_dev).allowed


def test_an_approval_cannot_lift_a_hard_rule(engine: PolicyEngine) -> None:
    resource, context = tool_call("refund", "billing", arguments={"amount_cents": 70000})
    assert engine.authorize(INVOKER, Action.CALL_TOOL, resource, context).outcome is Outcome.DENY
    approved = Context(agent="billing", arguments={"amount_cents": 70000}, approved=True)
    decision = engine.authorize(INVOKER, Action.CALL_TOOL, resource, approved)
    assert decision.outcome is Outcome.DENY
    assert decision.policy_names == ("refund-cap",)


def test_an_approval_cannot_lift_a_baseline_rule(engine: PolicyEngine) -> None:
    resource, context = tool_call("add_incident_note", data_classes=frozenset({"pii"}))
    decision = engine.authorize(INVOKER, Action.CALL_TOOL, resource, context)
    assert decision.outcome is Outcome.DENY
    assert set(decision.policy_names) == {
        "baseline.egress-of-uncleared-data",
        "prod-notes-need-approval",
    }


GRANT_POLICY = """\
@id("prod-promotion-by-approval")
@approval("required")
permit (principal, action == Pilothouse::Action::"promote",
        resource == Pilothouse::Environment::"prod")
when { context.approved && principal.roles.contains("operate") };

@id("staging-promotion")
permit (principal, action == Pilothouse::Action::"promote",
        resource == Pilothouse::Environment::"staging")
when { principal.roles.contains("operate") };
"""


def test_the_grant_shape_of_an_approval_policy(catalog: Catalog) -> None:
    engine = PolicyEngine(
        parse_policy_files([("policies/promote.cedar", GRANT_POLICY)], baseline=False), catalog
    )
    prod, staging = Resource.environment("prod"), Resource.environment("staging")
    asked = engine.authorize(OPERATOR, Action.PROMOTE, prod)
    assert asked.outcome is Outcome.NEEDS_APPROVAL
    assert asked.policy_names == ("prod-promotion-by-approval",)
    assert engine.authorize(OPERATOR, Action.PROMOTE, prod, Context(approved=True)).allowed
    assert engine.authorize(OPERATOR, Action.PROMOTE, staging).allowed
    refused = engine.authorize(APPROVER, Action.PROMOTE, prod)
    assert refused.outcome is Outcome.DENY
    assert refused.policies == ()
    assert refused.reason.startswith("denied: no policy permits promote")


# ---- scopes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scopes", "action", "resource", "context", "denied_by"),
    [
        (Scopes(agents=frozenset({"faq"})), Action.INVOKE_AGENT, Resource.agent("faq"),
         Context(), None),
        (Scopes(agents=frozenset({"faq"})), Action.INVOKE_AGENT, Resource.agent("billing"),
         Context(), "baseline.agent-outside-key-scope"),
        (Scopes(tools=frozenset({"search_kb"})), Action.CALL_TOOL, Resource.tool("search_kb"),
         Context(agent="faq"), None),
        (Scopes(tools=frozenset({"search_kb"})), Action.CALL_TOOL,
         Resource.tool("get_ticket_status"), Context(agent="support-desk"),
         "baseline.tool-outside-key-scope"),
        (Scopes(environments=frozenset({"dev"})), Action.INVOKE_AGENT, Resource.agent("faq"),
         Context(environment="dev"), None),
        (Scopes(environments=frozenset({"dev"})), Action.INVOKE_AGENT, Resource.agent("faq"),
         Context(environment="prod"), "baseline.environment-outside-key-scope"),
        (Scopes(environments=frozenset({"dev", "staging"})), Action.PROMOTE,
         Resource.environment("staging"), Context(), None),
        (Scopes(environments=frozenset({"dev", "staging"})), Action.PROMOTE,
         Resource.environment("prod"), Context(), "baseline.promote-outside-key-scope"),
        (Scopes(agents=frozenset()), Action.INVOKE_AGENT, Resource.agent("faq"), Context(),
         "baseline.agent-outside-key-scope"),
    ],
)  # fmt: skip
def test_a_scoped_key_reaches_only_what_its_scopes_name(
    engine: PolicyEngine,
    scopes: Scopes,
    action: Action,
    resource: Resource,
    context: Context,
    denied_by: str | None,
) -> None:
    principal = key("key_scoped", "invoke", "operate", scopes=scopes)
    decision = engine.authorize(principal, action, resource, context)
    if denied_by is None:
        assert decision.outcome is Outcome.ALLOW
    else:
        assert decision.outcome is Outcome.DENY
        assert decision.policy_names == (denied_by,)


# ---- malformed requests fail closed ------------------------------------------------------


def test_requests_that_cannot_be_evaluated_are_denied_with_a_reason(
    engine: PolicyEngine,
) -> None:
    cases = [
        (Action.CALL_TOOL, Resource.agent("faq"), Context(agent="faq"), "applies to"),
        (Action.CALL_TOOL, Resource.tool("search_kb"), Context(), "needs the agent"),
        ("delete_tenant", Resource.tenant(TENANT), Context(), "unknown action"),
        (
            Action.CALL_TOOL,
            Resource.tool("search_kb"),
            Context(agent="faq", arguments={"q": {"__extn": {"fn": "ip", "arg": "1.2.3.4"}}}),
            "reserved",
        ),
    ]
    for action, resource, context, words in cases:
        decision = engine.authorize(INVOKER, action, resource, context)
        assert decision.outcome is Outcome.DENY
        assert decision.policies == ()
        assert words in decision.reason
        assert decision.errors and decision.errors[0].startswith("request: ")


def test_invoke_agent_fills_in_the_agent(engine: PolicyEngine) -> None:
    only_faq = """\
@id("faq-only-in-prod")
forbid (principal, action == Pilothouse::Action::"invoke_agent", resource)
when { context.environment == "prod" && context has agent &&
       context.agent != Pilothouse::Agent::"faq" };
"""
    source = parse_policy_files([("policies/p.cedar", only_faq)])
    strict = PolicyEngine(source, engine.catalog)
    prod = Context(environment="prod")
    assert strict.authorize(INVOKER, Action.INVOKE_AGENT, Resource.agent("faq"), prod).allowed
    denied = strict.authorize(INVOKER, Action.INVOKE_AGENT, Resource.agent("billing"), prod)
    assert denied.policy_names == ("faq-only-in-prod",)


# ---- decisions are values with reasons ----------------------------------------------------


def test_decisions_are_deterministic_and_carry_reasons(engine: PolicyEngine) -> None:
    resource, context = tool_call("refund", "billing", arguments={"amount_cents": 99999})
    decisions = [engine.authorize(INVOKER, Action.CALL_TOOL, resource, context) for _ in range(5)]
    assert all(d == decisions[0] for d in decisions)
    first = decisions[0]
    assert first.reason == (
        "denied by refund-cap (policies/bundle.cedar:2), "
        "refund-needs-approval (policies/bundle.cedar:8)"
    )
    assert first.to_event() == {
        "type": "policy.decision",
        "outcome": "deny",
        "action": "call_tool",
        "principal": "key_invoke",
        "resource": 'Pilothouse::Tool::"refund"',
        "policies": [
            {"id": "policies/bundle.cedar:2", "name": "refund-cap", "effect": "forbid"},
            {"id": "policies/bundle.cedar:8", "name": "refund-needs-approval", "effect": "forbid"},
        ],
        "errors": [],
        "reason": first.reason,
        "policy_set": engine.source.digest,
    }


def test_an_engine_without_policies_denies_everything(catalog: Catalog) -> None:
    empty = PolicyEngine(parse_policy_files([], baseline=False), catalog)
    decision = empty.authorize(EVERYTHING, Action.INVOKE_AGENT, Resource.agent("faq"))
    assert decision.outcome is Outcome.DENY
    assert decision.policies == ()


# ---- decimals and sets in arguments -------------------------------------------------------

TYPED_ARGUMENTS = """\
@id("no-far-north")
forbid (principal, action == Pilothouse::Action::"call_tool", resource)
when { context.arguments has latitude &&
       context.arguments.latitude.greaterThan(decimal("66.5")) };

@id("no-ceo-recipient")
forbid (principal, action == Pilothouse::Action::"call_tool", resource)
when { context.arguments has recipients &&
       context.arguments.recipients.contains("ceo@acme.example") };
"""


@pytest.mark.parametrize(
    ("arguments", "outcome"),
    [
        ({"latitude": 52.52}, "allow"),
        ({"latitude": 70.25}, "deny"),
        ({"latitude": 70}, "deny"),  # a Long where a decimal is expected: fails closed
        ({"latitude": 70.123456}, "deny"),  # too precise for decimal: a string, fails closed
        ({"recipients": ["ops@acme.example", "ceo@acme.example"]}, "deny"),
        ({"recipients": ["ops@acme.example", "ops@acme.example"]}, "allow"),
        ({"recipients": []}, "allow"),
    ],
)
def test_decimal_and_set_arguments(
    catalog: Catalog, arguments: dict[str, Any], outcome: str
) -> None:
    engine = PolicyEngine(parse_policy_files([("policies/t.cedar", TYPED_ARGUMENTS)]), catalog)
    resource, context = tool_call("search_kb", "faq", arguments=arguments)
    assert engine.authorize(INVOKER, Action.CALL_TOOL, resource, context).outcome == outcome


def test_a_principal_cedar_refuses_is_denied_not_raised(
    engine: PolicyEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_: Any) -> Any:
        raise cedar.CedarError("duplicate entity")

    monkeypatch.setattr(cedar, "with_entities", refuse)
    stranger = key("key_never_seen", "invoke")
    decision = engine.authorize(stranger, Action.INVOKE_AGENT, Resource.agent("faq"))
    assert decision.outcome is Outcome.DENY
    assert decision.errors == ("request: principal: duplicate entity",)


# ---- the decision cache -----------------------------------------------------------------


def _counting_evaluations(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    evaluations: list[int] = []
    real = cedar.evaluate

    def counted(*args: Any) -> Any:
        evaluations.append(1)
        return real(*args)

    monkeypatch.setattr(cedar, "evaluate", counted)
    return evaluations


def test_a_repeated_request_is_answered_from_the_cache(
    engine: PolicyEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    evaluations = _counting_evaluations(monkeypatch)
    resource, context = tool_call("refund", agent="billing", arguments={"amount_cents": 777})
    first = engine.authorize(INVOKER, Action.CALL_TOOL, resource, context)
    again = engine.authorize(INVOKER, Action.CALL_TOOL, resource, context)
    assert again == first and len(evaluations) == 1


@pytest.mark.parametrize(
    ("amount", "outcome"), [(500, "allow"), (20_000, "needs_approval"), (60_000, "deny")]
)
def test_the_cache_never_answers_for_other_arguments_or_keys(
    engine: PolicyEngine, amount: int, outcome: str
) -> None:
    """Each argument value, and each principal, is decided on its own."""
    resource, context = tool_call("refund", agent="billing", arguments={"amount_cents": amount})
    for _ in range(2):
        assert engine.authorize(INVOKER, Action.CALL_TOOL, resource, context).outcome == outcome
        denied = engine.authorize(NOBODY, Action.CALL_TOOL, resource, context)
        assert denied.outcome == "deny"


def test_run_counters_are_decided_afresh_when_a_policy_reads_them(
    engine: PolicyEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fixture's policies read the run's cost and tool-call count: each value is
    evaluated, and a cached allow never answers for a run past its ceiling."""
    evaluations = _counting_evaluations(monkeypatch)
    outcomes = []
    for cost, calls in [(1_111, 3), (1_999_998, 23), (2_000_001, 23), (7, 26), (1_111, 3)]:
        resource, context = tool_call(
            "search_kb", "faq", cost_usd_micros=cost, tool_call_count=calls
        )
        outcomes.append(engine.authorize(INVOKER, Action.CALL_TOOL, resource, context).outcome)
    assert outcomes == ["allow", "allow", "deny", "deny", "allow"]
    assert len(evaluations) == 4  # the last request repeats the first


def test_run_counters_no_policy_reads_do_not_defeat_the_cache(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the baseline alone, a run's growing cost and call count change no decision:
    every step after the first is answered from the cache."""
    baseline = PolicyEngine(parse_policy_files([]), catalog)
    evaluations = _counting_evaluations(monkeypatch)
    first = None
    for step in range(5):
        resource, context = tool_call(
            "search_kb", "faq", cost_usd_micros=step * 1_234, tool_call_count=step * 2
        )
        decision = baseline.authorize(INVOKER, Action.CALL_TOOL, resource, context)
        assert decision.allowed
        first = first or decision
        assert decision is first
    assert len(evaluations) == 1


@pytest.mark.parametrize(
    ("text", "reads"),
    [
        ("permit (principal, action, resource) when { context.approved };", {"approved"}),
        (
            "forbid (principal, action, resource) when { context has cost_usd_micros && "
            "context.cost_usd_micros > 5 };",
            {"cost_usd_micros"},
        ),
        (
            "forbid (principal, action, resource) when { context.arguments.amount > 5 };",
            {"arguments"},
        ),
        ("permit (principal, action, resource);", set()),
        # The context as a whole: any attribute may matter.
        (
            'forbid (principal, action, resource) when { context == {"approved": true} };',
            None,
        ),
    ],
)
def test_the_context_attributes_policies_read(text: str, reads: set[str] | None) -> None:
    parsed = cedar.parse_policies(text)
    found = context_reads(parsed["staticPolicies"]["policy0"]["conditions"])
    assert found == (None if reads is None else frozenset(reads))
