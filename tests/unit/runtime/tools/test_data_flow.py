"""The data-flow wrapper of the tool gateway and the egress allowlist of HTTP tools."""

from __future__ import annotations

from typing import Any

import pytest
from yarl import URL

from pilothouse.control.tool_contract import ToolContract
from pilothouse.observability.redaction import RedactionMode, RedactionPolicy
from pilothouse.observability.redaction.boundary import DataBoundary, classify_arguments
from pilothouse.runtime.tools.base import RunToolBudget, ToolCall
from pilothouse.runtime.tools.data_flow import POLICY_ID, DataFlowGateway
from pilothouse.runtime.tools.http_transport import HttpTransport
from pilothouse.testing.tools import RecordingToolGateway


def contract(name: str, adapter: dict[str, Any], **fields: Any) -> ToolContract:
    return ToolContract.model_validate({"name": name, "adapter": adapter, **fields})


HTTP = {"type": "http", "url": "https://api.example.com/x"}
CONTRACTS = {
    "notify": contract("notify", HTTP),
    "mailer": contract("mailer", HTTP, data_classes=["pii"]),
    "local": contract("local", {"type": "python", "target": "m:f"}),
    "declared_local": contract("declared_local", HTTP, egress=False),
}


def call(name: str, **arguments: Any) -> ToolCall:
    return ToolCall(name, arguments, f"call-{name}", f"key-{name}", "resp_1")


async def echo(**arguments: Any) -> dict[str, Any]:
    return arguments


@pytest.fixture
def inner() -> RecordingToolGateway:
    return RecordingToolGateway(dict.fromkeys(CONTRACTS, echo))


async def test_uncleared_data_never_reaches_an_egress_tool(inner: RecordingToolGateway) -> None:
    gateway = DataFlowGateway(inner, CONTRACTS, DataBoundary().classify)
    calls = [
        call("notify", text="mail ada@example.org"),
        call("mailer", to="ada@example.org", note="card 4111 1111 1111 1111"),
        call("mailer", to="ada@example.org"),
        call("local", text="ada@example.org"),
        call("declared_local", text="ada@example.org"),
        call("notify", text="all clear"),
    ]
    results = await gateway.execute(calls, RunToolBudget())
    assert [r.call for r in results] == calls  # in call order
    assert [r.error["code"] if r.error else None for r in results] == [
        "policy_denied",
        "policy_denied",
        None,
        None,
        None,
        None,
    ]
    assert results[0].error is not None and "email" in results[0].error["message"]
    assert results[1].error is not None and "card" in results[1].error["message"]
    assert results[1].error["policy"] == POLICY_ID
    assert "ada@example.org" not in str([r.error for r in results])
    assert [c.name for c in inner.calls] == ["mailer", "local", "declared_local", "notify"]


async def test_a_batch_of_refusals_sends_nothing(inner: RecordingToolGateway) -> None:
    gateway = DataFlowGateway(inner, CONTRACTS, DataBoundary().classify)
    results = await gateway.execute([call("notify", key="sk-" + "a" * 40)], RunToolBudget())
    assert results[0].error is not None and "api_key" in results[0].error["message"]
    assert inner.calls == []


def test_classification_follows_the_policy_and_the_registry() -> None:
    boundary = DataBoundary(RedactionPolicy(modes={"phone": RedactionMode.OFF}))
    boundary.register(["hunter2-long-secret"], "test")
    found = boundary.classify({"a": ["+44 20 7946 0958", "x hunter2-long-secret"], "b": 1})
    assert found == {"secret"}  # phones are not looked for when their class is off
    assert classify_arguments(boundary.redactor, {"to": "a@b.example"}) == {"email"}


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://api.example.com/v2/orders", True),
        ("https://API.example.com:443/v2/orders?x=1", True),
        ("https://api.example.com/v2", False),
        ("https://api.example.com/v2/../admin", False),
        ("https://api.example.com/v2/%2e%2e/admin", False),
        ("http://api.example.com/v2/orders", False),
        ("https://api.example.com:8443/v2/orders", False),
        ("https://files.example.org/any/path", True),
        ("https://evil.example.net/v2/", False),
    ],
)
def test_egress_allowlist_of_hosts_and_url_prefixes(url: str, allowed: bool) -> None:
    transport = HttpTransport(egress=["https://api.example.com/v2/", "*.example.org"])
    assert transport.allowed(URL(url, encoded=True)) is allowed


def test_an_empty_allowlist_allows_everything() -> None:
    assert HttpTransport().allowed(URL("https://anywhere.example/"))
