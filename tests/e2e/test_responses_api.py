"""The Responses API through the official SDK: create, retrieve, delete, chaining, tools,
formats, limits, input items and input tokens."""

from __future__ import annotations

import json

import httpx2 as httpx
import jsonschema
import openai
import pytest

from tests.e2e.wire import check_resource

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
        "required": ["city", "unit"],
        "additionalProperties": False,
    },
    "strict": True,
}


def test_create_returns_a_complete_response_object(http: httpx.Client) -> None:
    response = http.post("/v1/responses", json={"model": "gpt-4o-mini", "input": "Hi there"})
    assert response.status_code == 200
    payload = response.json()
    check_resource(payload)
    assert payload["id"].startswith("resp_")
    assert payload["status"] == "completed"
    assert isinstance(payload["created_at"], int)
    assert payload["completed_at"] >= payload["created_at"]
    message = payload["output"][0]
    assert message["type"] == "message" and message["role"] == "assistant"
    assert message["content"][0] == {
        "type": "output_text",
        "text": "You said: Hi there",
        "annotations": [],
    }
    usage = payload["usage"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"] > 0
    assert usage["input_tokens_details"] == {"cached_tokens": 0}
    assert usage["output_tokens_details"] == {"reasoning_tokens": 0}


def test_request_values_are_echoed(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model="gpt-4o-mini",
        input="echo",
        instructions="Be terse.",
        temperature=0.2,
        top_p=0.9,
        max_output_tokens=500,
        metadata={"team": "support"},
        tools=[WEATHER],
        tool_choice="none",
        parallel_tool_calls=False,
        reasoning={"effort": "low"},
        safety_identifier="user-1234",
    )
    assert response.instructions == "Be terse."
    assert response.temperature == 0.2
    assert response.top_p == 0.9
    assert response.max_output_tokens == 500
    assert response.metadata == {"team": "support"}
    assert response.tool_choice == "none"
    assert response.parallel_tool_calls is False
    assert response.reasoning is not None and response.reasoning.effort == "low"
    assert response.safety_identifier == "user-1234"
    tool = response.tools[0]
    assert tool.type == "function" and tool.name == "get_weather" and tool.strict is True
    assert response.output_text == "You said: echo"  # tool_choice none: no call


async def test_async_client_create_and_retrieve(aclient: openai.AsyncOpenAI) -> None:
    async with aclient:
        created = await aclient.responses.create(model="gpt-4o-mini", input="async hello")
        fetched = await aclient.responses.retrieve(created.id)
    assert fetched.id == created.id
    assert fetched.output_text == "You said: async hello"


def test_previous_response_id_chains_history_but_not_instructions(client: openai.OpenAI) -> None:
    first = client.responses.create(model="m", input="first question", instructions="Rule A")
    second = client.responses.create(model="m", input="follow-up", previous_response_id=first.id)
    assert second.previous_response_id == first.id
    assert second.instructions is None
    assert second.output_text == "You said: follow-up"
    # The model saw the whole history: more input tokens than the follow-up alone.
    alone = client.responses.create(model="m", input="follow-up")
    assert second.usage is not None and alone.usage is not None
    assert second.usage.input_tokens > alone.usage.input_tokens


def test_unknown_previous_response_id_is_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model="m", input="x", previous_response_id="resp_missing")
    assert caught.value.body["param"] == "previous_response_id"  # type: ignore[index]


def test_store_false_persists_nothing(client: openai.OpenAI) -> None:
    response = client.responses.create(model="m", input="forget me", store=False)
    assert response.store is False
    assert response.output_text == "You said: forget me"
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)


def test_delete(client: openai.OpenAI, http: httpx.Client) -> None:
    response = client.responses.create(model="m", input="delete me")
    deleted = http.delete(f"/v1/responses/{response.id}")
    assert deleted.json() == {"id": response.id, "object": "response", "deleted": True}
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(response.id)


def test_function_call_round_trip(client: openai.OpenAI) -> None:
    first = client.responses.create(
        model="m",
        input="What's the weather in Paris?",
        tools=[WEATHER],  # type: ignore[list-item]
    )
    assert first.status == "completed"
    call = first.output[0]
    assert call.type == "function_call" and call.name == "get_weather"
    assert call.call_id.startswith("call_") and call.id.startswith("fc_")
    arguments = json.loads(call.arguments)
    jsonschema.validate(arguments, WEATHER["parameters"])  # type: ignore[arg-type]
    second = client.responses.create(
        model="m",
        previous_response_id=first.id,
        tools=[WEATHER],  # type: ignore[list-item]
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "18C sunny"}],
    )
    assert second.output_text == "Here is what I found. get_weather: 18C sunny"


def test_parallel_tool_calls_and_forced_choice(client: openai.OpenAI) -> None:
    other = {**WEATHER, "name": "get_time", "parameters": {"type": "object", "properties": {}}}
    both = client.responses.create(model="m", input="x", tools=[WEATHER, other])  # type: ignore[list-item]
    assert [o.name for o in both.output if o.type == "function_call"] == ["get_weather", "get_time"]
    one = client.responses.create(
        model="m",
        input="x",
        tools=[WEATHER, other],
        parallel_tool_calls=False,  # type: ignore[list-item]
    )
    assert [o.type for o in one.output] == ["function_call"]
    forced = client.responses.create(
        model="m",
        input="x",
        tools=[WEATHER, other],  # type: ignore[list-item]
        tool_choice={"type": "function", "name": "get_time"},
    )
    assert [o.name for o in forced.output if o.type == "function_call"] == ["get_time"]


def test_json_schema_format_yields_valid_json(client: openai.OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {
            "ticket": {"type": "string"},
            "priority": {"type": "integer", "minimum": 1, "maximum": 5},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["ticket", "priority", "tags"],
        "additionalProperties": False,
    }
    response = client.responses.create(
        model="m",
        input="Triage INC-42",
        text={
            "format": {"type": "json_schema", "name": "triage", "schema": schema, "strict": True}
        },
    )
    data = json.loads(response.output_text)
    jsonschema.validate(data, schema)
    assert data["ticket"] == "INC-42"
    assert response.text.format.type == "json_schema"  # type: ignore[union-attr]


def test_max_output_tokens_ends_incomplete(client: openai.OpenAI) -> None:
    words = " ".join(f"word{i}" for i in range(40))
    response = client.responses.create(model="m", input=words, max_output_tokens=16)
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.usage is not None and response.usage.output_tokens == 16


def test_input_items_paginate_in_both_orders(client: openai.OpenAI) -> None:
    items = [{"role": "user", "content": f"message {i}"} for i in range(7)]
    response = client.responses.create(model="m", input=items)  # type: ignore[arg-type]
    page = client.responses.input_items.list(response.id, limit=3)
    assert len(page.data) == 3 and page.has_more
    texts = [
        item.content[0].text
        for item in client.responses.input_items.list(  # type: ignore[union-attr]
            response.id, limit=3
        )
    ]
    assert texts == [f"message {i}" for i in range(6, -1, -1)]
    ascending = client.responses.input_items.list(response.id, order="asc", limit=2)
    texts = [item.content[0].text for item in ascending]  # type: ignore[union-attr]
    assert texts == [f"message {i}" for i in range(7)]
    first = ascending.data[0]
    assert first.type == "message" and first.id.startswith("msg_")


def test_input_items_of_unknown_response_is_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        client.responses.input_items.list("resp_nope")


def test_input_tokens_counts_what_create_would_bill(client: openai.OpenAI) -> None:
    kwargs = {"model": "m", "input": "count these tokens please", "instructions": "Be kind."}
    counted = client.responses.input_tokens.count(**kwargs)  # type: ignore[arg-type]
    created = client.responses.create(**kwargs)  # type: ignore[call-overload]
    assert counted.object == "response.input_tokens"
    assert created.usage is not None
    assert counted.input_tokens == created.usage.input_tokens > 0


def test_unknown_request_keys_are_tolerated(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model="m", input="extra", extra_body={"some_future_field": {"x": 1}}
    )
    assert response.status == "completed"


def test_models_list(client: openai.OpenAI) -> None:
    models = client.models.list()
    assert models.object == "list"
    assert all(m.object == "model" for m in models.data)


def test_health_and_openapi(http: httpx.Client) -> None:
    assert http.get("/healthz").json() == {"status": "ok"}
    assert http.get("/readyz").json() == {"status": "ready"}
    document = http.get("/openapi.json").json()
    assert document["openapi"].startswith("3.")
    assert "/v1/responses" in document["paths"]
    assert "CreateResponse" in document["components"]["schemas"]
