"""A realistic release for policy tests: two agents, eight tools, a bundle's policies.

Tenant ``acme`` runs ``support-desk`` (ticket lookup, knowledge search, incident notes,
refunds) and ``billing`` (refunds, invoice e-mails); ``delete_account`` exists in the
release but no agent lists it. The bundle adds six policies to the fourteen of the
baseline, 20 in all: an argument cap and an approval gate on refunds, an approval gate on
every side effect in prod, a cost ceiling, a tool-call ceiling and an e-mail domain rule.
"""

from __future__ import annotations

import pytest

from pilothouse.control.policy import (
    AgentEntity,
    Catalog,
    PolicyEngine,
    PolicySource,
    Principal,
    Scopes,
    ToolEntity,
    parse_policy_files,
)

TENANT = "acme"

BUNDLE_POLICIES = """\
// Refunds above 500.00 are never made by an agent.
@id("refund-cap")
forbid (principal, action == Pilothouse::Action::"call_tool",
        resource == Pilothouse::Tool::"refund")
when { context.arguments.amount_cents > 50000 };

// Refunds above 100.00 wait for a person.
@id("refund-needs-approval")
@approval("required")
forbid (principal, action == Pilothouse::Action::"call_tool",
        resource == Pilothouse::Tool::"refund")
when { context.arguments.amount_cents > 10000 }
unless { context.approved };

// In prod, incident notes are written only with an approval.
@id("prod-notes-need-approval")
@approval("required")
forbid (principal, action == Pilothouse::Action::"call_tool",
        resource == Pilothouse::Tool::"add_incident_note")
when { context.environment == "prod" }
unless { context.approved };

// A run that has spent 2 USD makes no further tool calls.
@id("run-cost-ceiling")
forbid (principal, action == Pilothouse::Action::"call_tool", resource)
when { context.cost_usd_micros >= 2000000 };

// Nor more than 25 of them.
@id("run-tool-call-ceiling")
forbid (principal, action == Pilothouse::Action::"call_tool", resource)
when { context.tool_call_count >= 25 };

// Invoices go to customers' own domains only, never to free-mail.
@id("invoice-no-freemail")
forbid (principal, action == Pilothouse::Action::"call_tool",
        resource == Pilothouse::Tool::"send_invoice_email")
when { context.arguments.to like "*@gmail.com" || context.arguments.to like "*@outlook.com" };
"""

AGENTS = (
    AgentEntity(
        "support-desk",
        TENANT,
        ("get_ticket_status", "search_kb", "add_incident_note", "refund"),
    ),
    AgentEntity("billing", TENANT, ("refund", "send_invoice_email", "lookup_invoice")),
    AgentEntity("faq", TENANT, ("search_kb",)),
)

TOOLS = (
    ToolEntity("get_ticket_status"),
    ToolEntity("search_kb"),
    ToolEntity("lookup_invoice"),
    ToolEntity("add_incident_note", side_effect=True, egress=True, data_classes=frozenset()),
    ToolEntity("refund", side_effect=True, egress=True, data_classes=frozenset({"pci", "pii"})),
    ToolEntity(
        "send_invoice_email", side_effect=True, egress=True, data_classes=frozenset({"pii"})
    ),
    ToolEntity("delete_account", side_effect=True, egress=True),
    ToolEntity("export_customers", egress=True, data_classes=frozenset({"pii"})),
)


def key(name: str, *roles: str, tenant: str = TENANT, scopes: Scopes | None = None) -> Principal:
    """A key of ``tenant`` with ``roles``."""
    return Principal(name, tenant, frozenset(roles), scopes or Scopes())


@pytest.fixture(scope="session")
def source() -> PolicySource:
    """The baseline plus the bundle's policies."""
    return parse_policy_files([("policies/bundle.cedar", BUNDLE_POLICIES)])


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    """Tenant acme's view of the release."""
    return Catalog(
        tenant=TENANT,
        agents=AGENTS,
        tools=TOOLS,
        models=("gpt-4o", "gpt-4o-mini"),
        environments=("dev", "staging", "prod"),
    )


@pytest.fixture(scope="session")
def engine(source: PolicySource, catalog: Catalog) -> PolicyEngine:
    """The engine of the release."""
    return PolicyEngine(source, catalog)
