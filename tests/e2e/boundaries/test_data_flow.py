"""Data classes and egress, end to end: calls that would carry data to a tool not cleared
for it, or leave a tool's egress allowlist, are refused before the tool server sees any
request, answered to the model as errors, and journaled."""

from __future__ import annotations

import httpx2 as httpx
import openai

from tests.e2e.boundaries.conftest import PII_CANARIES, BoundaryServer, leaks


def journal(raw: httpx.Client, run_id: str) -> list[dict[str, object]]:
    entries: list[dict[str, object]] = raw.get(f"/admin/v1/runs/{run_id}/journal").json()["data"]
    return entries


def test_data_of_an_uncleared_class_never_reaches_an_egress_tool(
    sdk: openai.OpenAI, raw: httpx.Client, boundary: BoundaryServer
) -> None:
    response = sdk.responses.create(model="agent:leaker", input="Tell them.")
    assert response.status == "completed"
    calls = {item.name: item for item in response.output if item.type == "mcp_call"}
    # post_note is cleared for nothing (an email is PII); send_message for PII, not cards.
    assert calls["post_note"].error is not None
    assert calls["post_note"].error.startswith("policy_denied: ")
    assert "email" in calls["post_note"].error
    assert calls["send_message"].error is not None and "card" in calls["send_message"].error
    assert boundary.tools.requests == []  # 0 executions: nothing was sent anywhere
    # Cedar's baseline refuses them before the gateway's own data-flow check is reached;
    # both decisions are journaled as policy events.
    refusals = [
        entry["payload"]
        for entry in journal(raw, response.id)
        if entry["kind"] == "policy.decision" and entry["payload"]["decision"] == "deny"
    ]
    assert sorted(r["tool"] for r in refusals) == ["post_note", "send_message"]
    assert {name for r in refusals for name in r["policy_names"]} == {
        "baseline.egress-of-uncleared-data"
    }
    # The refusal names classes, never the values.
    assert leaks(str(refusals), PII_CANARIES) == []


def test_a_cleared_tool_receives_its_data(sdk: openai.OpenAI, boundary: BoundaryServer) -> None:
    response = sdk.responses.create(model="agent:relay", input="Send it.")
    assert response.status == "completed"
    assert all(i.error is None for i in response.output if i.type == "mcp_call")
    assert len(boundary.tools.calls("/echo/messages")) == 1


def test_an_url_outside_the_egress_allowlist_is_never_requested(
    sdk: openai.OpenAI, raw: httpx.Client, boundary: BoundaryServer
) -> None:
    final = sdk.responses.create(model="agent:fetcher", input="Fetch the status.")
    assert final.status == "completed"
    (call,) = [item for item in final.output if item.type == "mcp_call"]
    assert call.error is not None and call.error.startswith("egress_denied: ")
    assert boundary.tools.requests == []
    completed = [e for e in journal(raw, final.id) if e["kind"] == "tool.completed"]
    assert completed[0]["payload"]["error"]["code"] == "egress_denied"  # type: ignore[index]
