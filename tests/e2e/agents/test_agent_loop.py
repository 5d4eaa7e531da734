"""The governed tool loop end to end: the official SDK asks for ``agent:<name>`` and the
server runs the whole loop, visible as ``mcp_list_tools``/``mcp_call`` items."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx2 as httpx
import openai
import pytest

from pilothouse.runtime.providers.scripted import ScriptedProvider
from pilothouse.testing import FakeUpstream, ServerThread
from tests.conftest import TEST_API_KEY, auth_headers
from tests.e2e.wire import check_resource, stream_events

QUESTION = "Check ticket INC-24531 and summarize next action."


def _types(response: Any) -> list[str]:
    return [item.type for item in response.output]


def test_multi_step_tool_loop(agents: openai.OpenAI) -> None:
    response = agents.responses.create(model="agent:desk", input=QUESTION)
    assert response.status == "completed"
    assert _types(response) == ["mcp_list_tools", "mcp_call", "mcp_call", "message"]
    listing = response.output[0]
    assert listing.server_label == "desk"  # type: ignore[union-attr]
    assert {t.name for t in listing.tools} == {"get_ticket_status", "search_kb"}  # type: ignore[union-attr]
    ticket = response.output[1]
    assert ticket.type == "mcp_call" and ticket.name == "get_ticket_status"
    assert json.loads(ticket.arguments) == {"ticket_id": "INC-24531"}
    assert json.loads(ticket.output or "")["status"] == "open"
    assert ticket.error is None
    assert "get_ticket_status" in response.output_text
    assert response.model == "agent:desk"
    extension = response.model_extra["pilothouse"]  # type: ignore[index]
    assert extension["agent"] == "desk" and extension["steps"] == 2
    assert extension["tool_calls"] == 2
    assert response.usage is not None and response.usage.input_tokens > 0


def test_wire_object_conforms(http_agents: httpx.Client) -> None:
    payload = http_agents.post("/v1/responses", json={"model": "agent:desk", "input": QUESTION})
    check_resource(payload.json())


def test_streamed_loop_matches_plain(agents: openai.OpenAI, http_agents: httpx.Client) -> None:
    events = stream_events(
        http_agents,
        "POST",
        "/v1/responses",
        json={"model": "agent:desk", "input": QUESTION, "stream": True},
    )
    numbers = [e["sequence_number"] for e in events]
    assert numbers == sorted(set(numbers))
    kinds = [e["type"] for e in events]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert kinds.count("response.mcp_call.completed") == 2
    assert "response.mcp_list_tools.completed" in kinds
    final = events[-1]["response"]
    added = [e for e in events if e["type"] == "response.output_item.added"]
    assert [e["output_index"] for e in added] == list(range(len(final["output"])))
    assert [e["item"]["type"] for e in added] == [i["type"] for i in final["output"]]
    plain = agents.responses.create(model="agent:desk", input=QUESTION)
    assert [i["type"] for i in final["output"]] == _types(plain)
    assert final["usage"] == plain.usage.model_dump(exclude_none=True)  # type: ignore[union-attr]


def test_stream_helper_accepts_agent_streams(agents: openai.OpenAI) -> None:
    with agents.responses.stream(model="agent:desk", input=QUESTION) as stream:
        final = stream.get_final_response()
    assert _types(final) == ["mcp_list_tools", "mcp_call", "mcp_call", "message"]


def test_chained_agent_turn_sees_earlier_tool_results(agents: openai.OpenAI) -> None:
    first = agents.responses.create(model="agent:desk", input=QUESTION)
    second = agents.responses.create(
        model="agent:desk", input="And what about INC-99?", previous_response_id=first.id
    )
    assert second.status == "completed"
    assert "mcp_list_tools" not in _types(second)  # listed once per conversation
    assert second.usage is not None and first.usage is not None


def test_client_and_server_tools_mixed(agents: openai.OpenAI) -> None:
    weather = {
        "type": "function",
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
    first = agents.responses.create(model="agent:desk", input=QUESTION, tools=[weather])  # type: ignore[list-item]
    assert sorted(_types(first)) == ["function_call", "mcp_call", "mcp_call", "mcp_list_tools"]
    call = next(item for item in first.output if item.type == "function_call")
    assert call.type == "function_call" and call.name == "get_weather"
    second = agents.responses.create(
        model="agent:desk",
        previous_response_id=first.id,
        tools=[weather],  # type: ignore[list-item]
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "rainy"}],
    )
    assert second.status == "completed"
    assert "get_weather: rainy" in second.output_text


def test_max_steps_counts_model_calls_exactly(
    agents: openai.OpenAI, upstream: FakeUpstream
) -> None:
    upstream.brain = ScriptedProvider(
        script={
            "loop": True,
            "turns": [
                {
                    "tool_calls": [
                        {"name": "get_ticket_status", "arguments": {"ticket_id": "INC-{turn}"}}
                    ]
                }
            ],
        }
    )
    try:
        response = agents.responses.create(model="agent:looper", input="loop")
    finally:
        upstream.brain = ScriptedProvider()
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_steps"
    assert len(upstream.calls()) == 3  # max_steps, never one more
    assert "max_steps" in response.output[-1].content[0].text  # type: ignore[union-attr]
    assert _types(response).count("mcp_call") == 2  # the third step's calls are not run


def test_identical_call_loop_ends_incomplete(agents: openai.OpenAI) -> None:
    response = agents.responses.create(model="agent:repeater", input="again and again")
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_identical_calls"
    assert _types(response).count("mcp_call") == 2


def test_request_may_lower_limits_but_not_raise_them(
    agents: openai.OpenAI, upstream: FakeUpstream
) -> None:
    lowered = agents.responses.create(
        model="agent:desk", input=QUESTION, extra_body={"limits": {"max_steps": 1}}
    )
    assert lowered.status == "incomplete"
    assert lowered.incomplete_details is not None
    assert lowered.incomplete_details.reason == "max_steps"
    capped = agents.responses.create(model="agent:desk", input=QUESTION, max_tool_calls=1)
    assert capped.incomplete_details is not None
    assert capped.incomplete_details.reason == "max_tool_calls"
    raised = agents.responses.create(
        model="agent:desk", input=QUESTION, extra_body={"limits": {"max_steps": 99}}
    )
    assert raised.status == "completed"  # the agent's own 4 steps still apply
    with pytest.raises(openai.BadRequestError) as caught:
        agents.responses.create(model="agent:desk", input="x", extra_body={"limits": {"nope": 1}})
    assert caught.value.param == "limits.nope"


def test_cost_ceiling_and_unpriced_model(agents: openai.OpenAI) -> None:
    response = agents.responses.create(model="agent:priced", input=QUESTION)
    cost = response.model_extra["pilothouse"]["cost_usd"]  # type: ignore[index]
    assert 0 < cost <= 0.002
    with pytest.raises(openai.BadRequestError) as caught:
        agents.responses.create(model="agent:unpriced", input="x")
    assert caught.value.code == "model_price_unknown"


def test_addressing(agents: openai.OpenAI) -> None:
    by_reference = agents.responses.create(
        input=QUESTION,
        extra_body={"agent_reference": {"type": "agent_reference", "name": "desk"}},
        model=openai.omit,  # type: ignore[arg-type]
    )
    assert by_reference.model == "agent:desk" and by_reference.status == "completed"
    versioned = agents.responses.create(model="agent:desk@1", input=QUESTION)
    assert versioned.status == "completed"
    with pytest.raises(openai.NotFoundError):
        agents.responses.create(model="agent:desk@7", input="x")
    with pytest.raises(openai.NotFoundError):
        agents.responses.create(model="agent:nobody", input="x")


def test_agents_are_listed_as_models(agents: openai.OpenAI) -> None:
    names = {m.id for m in agents.models.list()}
    assert {"agent:desk", "agent:looper"} <= names


def test_kill_switch_stops_an_agent(agent_server: ServerThread, agents: openai.OpenAI) -> None:
    switches = agent_server.services.switches
    agent_server.run(switches.set("desk", True, "incident 42"))
    try:
        with pytest.raises(openai.InternalServerError) as caught:
            agents.responses.create(model="agent:desk", input=QUESTION)
        assert caught.value.status_code == 503
        assert caught.value.code == "kill_switch_engaged"
        other = agents.responses.create(model="agent:repeater", input="x")
        assert other.status == "incomplete"
    finally:
        agent_server.run(switches.set("desk", False, "resolved"))
    assert agents.responses.create(model="agent:desk", input=QUESTION).status == "completed"


def test_journal_records_every_step(agent_server: ServerThread, agents: openai.OpenAI) -> None:
    response = agents.responses.create(model="agent:desk", input=QUESTION)
    journal = agent_server.services.journal
    entries = agent_server.run(journal.read(response.id))
    kinds = [e.kind for e in entries if e.kind != "policy.decision"]  # type: ignore[attr-defined]
    decisions = [e.payload["action"] for e in entries if e.kind == "policy.decision"]  # type: ignore[attr-defined]
    assert decisions == ["invoke_agent", "use_model", "call_tool", "call_tool", "use_model"]
    assert kinds == [
        "run.started",
        "tools.listed",
        "model.started",
        "model.completed",
        "tool.intent",
        "tool.intent",
        "tool.completed",
        "tool.completed",
        "model.started",
        "model.completed",
        "run.finished",
    ]
    intents = [e for e in entries if e.kind == "tool.intent"]  # type: ignore[attr-defined]
    assert all(e.payload["idempotency_key"].startswith("ph-") for e in intents)
    finished = entries[-1]  # type: ignore[index]
    assert finished.payload["status"] == "completed"


async def test_cost_ceiling_holds_under_20_concurrent_runs(
    agent_server: ServerThread,
) -> None:
    async with openai.AsyncOpenAI(
        base_url=agent_server.base_url, api_key=TEST_API_KEY, max_retries=0
    ) as sdk:
        asks = [f"{QUESTION} #{i}" for i in range(20)]
        runs = await asyncio.gather(
            *(sdk.responses.create(model="agent:tight", input=ask) for ask in asks)
        )
    journal = agent_server.services.journal
    for run in runs:
        cost = run.model_extra["pilothouse"]["cost_usd"]  # type: ignore[index]
        assert 0 < cost <= 0.012
        entries = await asyncio.wrap_future(
            asyncio.run_coroutine_threadsafe(journal.read(run.id), agent_server.loop)  # type: ignore[arg-type]
        )
        recorded = sum(e.payload["cost_usd"] for e in entries if e.kind == "model.completed")
        assert recorded == pytest.approx(cost) and recorded <= 0.012
    reasons = {r.incomplete_details.reason for r in runs if r.incomplete_details}
    assert reasons == {"max_cost_usd"}  # the ceiling was reached, and held, in every run


def test_streamed_and_plain_runs_cost_the_same(agents: openai.OpenAI) -> None:
    plain = agents.responses.create(model="agent:desk", input=QUESTION)
    with agents.responses.stream(model="agent:desk", input=QUESTION) as stream:
        streamed = stream.get_final_response()
    assert streamed.usage == plain.usage
    assert (
        streamed.model_extra["pilothouse"]["cost_usd"]
        == (  # type: ignore[index]
            plain.model_extra["pilothouse"]["cost_usd"]  # type: ignore[index]
        )
    )


def test_background_agent_run_and_cancel(
    agent_server: ServerThread, agents: openai.OpenAI, upstream: FakeUpstream
) -> None:
    queued = agents.responses.create(model="agent:desk", input=QUESTION, background=True)
    assert queued.status == "queued"
    deadline = time.monotonic() + 10
    while (done := agents.responses.retrieve(queued.id)).status in ("queued", "in_progress"):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert done.status == "completed" and _types(done)[-1] == "message"
    upstream.latency_s = 2.0
    slow = agents.responses.create(model="agent:looper", input="slow", background=True)
    time.sleep(0.2)
    assert agents.responses.cancel(slow.id).status == "cancelled"
    journal = agent_server.services.journal
    deadline = time.monotonic() + 5
    while True:
        entries = agent_server.run(journal.read(slow.id))
        if entries and entries[-1].kind == "run.finished":  # type: ignore[index]
            break
        assert time.monotonic() < deadline, [e.kind for e in entries]  # type: ignore[attr-defined]
        time.sleep(0.05)
    assert entries[-1].payload["status"] == "cancelled"  # type: ignore[index]
    assert agents.responses.retrieve(slow.id).status == "cancelled"


def test_agent_over_the_chat_completions_bridge(
    agents: openai.OpenAI, upstream: FakeUpstream
) -> None:
    response = agents.responses.create(model="agent:bridged", input=QUESTION)
    assert response.status == "completed"
    assert _types(response) == ["mcp_list_tools", "mcp_call", "mcp_call", "message"]
    chats = upstream.calls("/chat/completions")
    assert len(chats) == 2 and not upstream.calls("/responses")
    first = chats[0].body
    assert first["model"] == "chat/qwen"
    assert {t["function"]["name"] for t in first["tools"]} == {"get_ticket_status", "search_kb"}
    second = chats[1].body["messages"]
    assert [m["role"] for m in second].count("tool") == 2
    with agents.responses.stream(model="agent:bridged", input=QUESTION) as stream:
        streamed = stream.get_final_response()
    assert _types(streamed) == _types(response) and streamed.usage == response.usage


def test_fallback_model_serves_when_the_primary_is_throttled(
    agents: openai.OpenAI, upstream: FakeUpstream
) -> None:
    upstream.fail(429, times=1, message="slow down", retry_after=1)
    response = agents.responses.create(model="agent:resilient", input=QUESTION)
    assert response.status == "completed"
    # Step 1: the primary is throttled and the fallback serves; step 2 tries the primary
    # first again, and it has recovered.
    assert len(upstream.calls("/v1/responses")) == 2
    assert len(upstream.calls("/chat/completions")) == 1


def test_per_tool_cap(agents: openai.OpenAI) -> None:
    first = agents.responses.create(model="agent:capped", input=QUESTION)
    assert first.status == "completed"  # one search_kb call: within the cap
    again = agents.responses.create(
        model="agent:capped", input="Search again for INC-1", previous_response_id=first.id
    )
    assert again.status == "completed"  # the cap is per run, and this is a new run
    lowered = agents.responses.create(
        model="agent:capped",
        input=QUESTION,
        extra_body={"limits": {"max_tool_calls_per_tool": {"search_kb": 0}}},
    )
    assert lowered.incomplete_details is not None
    assert lowered.incomplete_details.reason == "max_tool_calls_per_tool"
    assert "search_kb" in lowered.output[-1].content[0].text  # type: ignore[union-attr]


def test_max_output_tokens_of_the_agent(agents: openai.OpenAI) -> None:
    response = agents.responses.create(model="agent:terse", input=QUESTION)
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.usage is not None


def test_deadline_ends_the_run(
    agent_server: ServerThread, agents: openai.OpenAI, upstream: FakeUpstream
) -> None:
    upstream.latency_s = 1.0
    response = agents.responses.create(model="agent:hasty", input=QUESTION)
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "deadline_s"
    journal = agent_server.services.journal
    kinds = [e.kind for e in agent_server.run(journal.read(response.id))]  # type: ignore[attr-defined]
    # The slow model call was abandoned at the deadline: started, never completed.
    assert "model.started" in kinds and "model.completed" not in kinds
    assert kinds[-2:] == ["limit.hit", "run.finished"]


def test_client_leaving_a_stream_closes_the_run(
    agent_server: ServerThread, upstream: FakeUpstream
) -> None:
    upstream.latency_s = 0.5
    body = {"model": "agent:looper", "input": "slow", "stream": True}
    with (
        httpx.Client(headers=auth_headers(), base_url=agent_server.root_url, timeout=10) as http,
        http.stream("POST", "/v1/responses", json=body) as response,
    ):
        lines = response.iter_lines()
        data = next(line for line in lines if line.startswith("data: "))
    run_id = json.loads(data[len("data: ") :])["response"]["id"]
    journal = agent_server.services.journal
    store = agent_server.services.store
    deadline = time.monotonic() + 5
    while True:
        entries = agent_server.run(journal.read(run_id))
        stored = agent_server.run(store.get_response("default", run_id))
        if entries and entries[-1].kind == "run.finished" and stored is not None:  # type: ignore[index]
            break
        assert time.monotonic() < deadline, [e.kind for e in entries]  # type: ignore[attr-defined]
        time.sleep(0.05)
    assert entries[-1].payload["status"] == "cancelled"  # type: ignore[index]
    assert stored.status == "cancelled"  # type: ignore[attr-defined]
