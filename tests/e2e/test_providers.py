"""The HTTP model providers end to end: the stock ``openai`` SDK → Pilothouse → the fake
upstream, asserting what reaches the upstream and what the client gets back.

The shared ``server`` routes ``upstream/*`` to an OpenAI provider and ``azure/*`` to an
Azure provider with a dated api-version. Configurations it lacks (Azure v1, Entra ID,
Foundry projects, openai-compatible servers, an unreachable or slow upstream) live on a
second server, ``extra_server``, with its own fake upstream and a fake Entra credential.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai
import orjson
import pytest
from pydantic import SecretStr

from pilothouse.runtime.providers.auth import COGNITIVE_SERVICES_SCOPE, FOUNDRY_SCOPE
from pilothouse.settings import ProviderConfig, RouteConfig, Settings
from pilothouse.testing import FakeUpstream, RecordedRequest, ServerThread
from pilothouse.testing.credentials import FakeCredential
from pilothouse.testing.server import free_port
from pilothouse.wiring import build_services
from tests.conftest import TEST_API_KEY

Body = dict[str, Any]

UPSTREAM_USAGE: Body = {
    "input_tokens": 1234,
    "input_tokens_details": {"cached_tokens": 1000},
    "output_tokens": 56,
    "output_tokens_details": {"reasoning_tokens": 17},
    "total_tokens": 1290,
}


# -- helpers and fakes ---------------------------------------------------------------------


def last_call(upstream: FakeUpstream, suffix: str = "/responses") -> RecordedRequest:
    """The latest request that reached ``upstream`` on a path ending with ``suffix``."""
    calls = upstream.calls(suffix)
    assert calls, f"no request reached the upstream at *{suffix}"
    return calls[-1]


def body_of(request: RecordedRequest) -> Body:
    """The JSON object body of a recorded request."""
    assert isinstance(request.body, dict), request.body
    return request.body


def transcript(items: list[Body]) -> list[tuple[str, str]]:
    """(role, text) of each message item, for comparing histories."""
    lines: list[tuple[str, str]] = []
    for item in items:
        assert item.get("type", "message") == "message", item
        content = item["content"]
        text = content if isinstance(content, str) else "".join(p["text"] for p in content)
        lines.append((item["role"], text))
    return lines


@dataclass
class ParamFaultUpstream(FakeUpstream):
    """The fake upstream, plus error answers that name a ``param`` (``Fault`` has none)."""

    param_faults: deque[tuple[int, str, str]] = field(default_factory=deque)

    async def answer(self, request: RecordedRequest, transport: Any) -> None:
        """Answer with a queued ``(status, message, param)`` error, else as usual."""
        if not (self.param_faults and request.path.endswith("/responses")):
            await super().answer(request, transport)
            return
        self.requests.append(request)
        status, message, param = self.param_faults.popleft()
        error = {"message": message, "type": "invalid_request_error", "param": param}
        body = orjson.dumps({"error": {**error, "code": "invalid_value"}})
        head = (
            f"HTTP/1.1 {status} Error\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n\r\n"
        )
        transport.write(head.encode() + body)


# -- clients -------------------------------------------------------------------------------


# -- the second server ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def own_upstream_server() -> Iterator[ParamFaultUpstream]:
    """The extra server's fake upstream (separate, so latency tests disturb no one)."""
    upstream = ParamFaultUpstream()
    upstream.start_in_thread()
    yield upstream
    upstream.stop_thread()


@pytest.fixture
def own_upstream(own_upstream_server: ParamFaultUpstream) -> ParamFaultUpstream:
    """The extra server's fake upstream, reset for this test."""
    own_upstream_server.requests.clear()
    own_upstream_server._faults.clear()
    own_upstream_server.param_faults.clear()
    own_upstream_server.latency_s = 0.0
    own_upstream_server.usage = None
    return own_upstream_server


@pytest.fixture(scope="module")
def credential_server() -> FakeCredential:
    """The Entra credential the extra server's Azure providers share."""
    return FakeCredential(token="tok-123")


@pytest.fixture
def credential(credential_server: FakeCredential) -> FakeCredential:
    """The fake credential, reset for this test."""
    credential_server.token = "tok-123"
    credential_server.lifetime_s = 3600.0
    credential_server.fail = False
    credential_server.scopes.clear()
    return credential_server


def extra_settings(store_url: str, upstream: FakeUpstream, tmp: Path) -> Settings:
    """Providers the shared server lacks, each behind its own model prefix."""
    if store_url.startswith("sqlite"):
        store_url = f"sqlite:///{tmp / 'providers.db'}"
    base = upstream.url
    entra = {"kind": "azure", "base_url": base, "api_version": "2025-04-01-preview"}
    providers = [
        ProviderConfig(
            name="azure-v1", kind="azure", base_url=base, api_key=SecretStr("azure-v1-key")
        ),
        ProviderConfig.model_validate(
            {**entra, "name": "entra", "models": {"entra/gpt-4o": "entra-deployment"}}
        ),
        ProviderConfig.model_validate({**entra, "name": "entra-refresh"}),
        ProviderConfig.model_validate({**entra, "name": "entra-broken"}),
        ProviderConfig(name="foundry", kind="azure", base_url=f"{base}/api/projects/myproj"),
        ProviderConfig(
            name="compat",
            kind="openai-compatible",
            base_url=f"{base}/compat/v1",
            headers={"X-Tenant": "acme", "OpenAI-Organization": "org-42"},
        ),
        ProviderConfig(name="dead", kind="openai", base_url=f"http://127.0.0.1:{free_port()}/v1"),
        ProviderConfig(
            name="slow", kind="openai-compatible", base_url=f"{base}/slow/v1", timeout_s=0.2
        ),
    ]
    # These tests watch single failures reach the client, so server-side retries and
    # breakers are off here; tests/integration/providers covers them.
    providers = [p.model_copy(update={"retry": None, "breaker": None}) for p in providers]
    routes = [RouteConfig(match=f"{p.name}/*", provider=p.name) for p in providers]
    return Settings(
        host="127.0.0.1",
        port=0,
        store=store_url,
        providers=providers,
        routes=routes,
        admin_key=TEST_API_KEY,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def extra_server(
    store_url: str,
    own_upstream_server: ParamFaultUpstream,
    credential_server: FakeCredential,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServerThread]:
    """A Pilothouse server with the extra providers, one per store."""
    settings = extra_settings(store_url, own_upstream_server, tmp_path_factory.mktemp("extra"))
    services = build_services(settings, azure_credential=credential_server)
    thread = ServerThread(settings, services=services).start()
    yield thread
    thread.stop()


@pytest.fixture
def extra_client(extra_server: ServerThread) -> Iterator[openai.OpenAI]:
    """The SDK pointed at the extra server, without retries."""
    with openai.OpenAI(base_url=extra_server.base_url, api_key=TEST_API_KEY, max_retries=0) as sdk:
        yield sdk


# -- openai: what reaches the upstream -----------------------------------------------------


def test_openai_auth_path_model_store_and_usage(
    client: openai.OpenAI, upstream: FakeUpstream
) -> None:
    upstream.usage = UPSTREAM_USAGE
    response = client.responses.create(model="upstream/gpt-4o", input="Say hello", store=True)

    call = last_call(upstream)
    assert (call.method, call.path, call.query) == ("POST", "/v1/responses", {})
    assert call.headers["authorization"] == "Bearer sk-test-upstream-key"
    assert "Bearer test-key" not in call.headers.values()
    assert "api-key" not in call.headers
    body = body_of(call)
    assert body["model"] == "upstream/gpt-4o"
    assert body["store"] is False  # Pilothouse keeps the response; the upstream must not
    assert "stream" not in body
    assert response.model == "upstream/gpt-4o"
    assert response.output_text == "You said: Say hello"
    assert response.usage is not None
    assert response.usage.model_dump(exclude_none=True) == UPSTREAM_USAGE


def test_correlation_headers_reach_the_upstream_and_come_back(
    client: openai.OpenAI, upstream: FakeUpstream
) -> None:
    trace_id, span_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    raw = client.responses.with_raw_response.create(
        model="upstream/gpt-4o",
        input="trace me",
        extra_headers={"X-Request-ID": "req-e2e-42", "traceparent": f"00-{trace_id}-{span_id}-01"},
    )

    headers = last_call(upstream).headers
    assert headers["x-request-id"] == "req-e2e-42"
    assert raw.headers["x-request-id"] == "req-e2e-42"
    version, upstream_trace, upstream_span, flags = headers["traceparent"].split("-")
    assert (version, upstream_trace, flags) == ("00", trace_id, "01")
    assert upstream_span != span_id  # Pilothouse's own span, a child of the caller's
    assert raw.headers["traceparent"].split("-")[1] == trace_id
    assert raw.parse().status == "completed"


def test_minted_request_id_is_the_one_sent_upstream(
    client: openai.OpenAI, upstream: FakeUpstream
) -> None:
    raw = client.responses.with_raw_response.create(model="upstream/gpt-4o", input="hi")

    minted = raw.headers["x-request-id"]
    assert minted
    assert last_call(upstream).headers["x-request-id"] == minted


def test_request_options_are_forwarded_as_sent(
    client: openai.OpenAI, upstream: FakeUpstream
) -> None:
    schema: Body = {
        "type": "object",
        "properties": {"ticket_id": {"type": "string"}},
        "required": ["ticket_id"],
        "additionalProperties": False,
    }
    client.responses.create(
        model="upstream/gpt-4o",
        input="Look up INC-1",
        instructions="You are a support agent.",
        tools=[
            {
                "type": "function",
                "name": "get_ticket",
                "description": "Fetch a ticket.",
                "parameters": schema,
                "strict": True,
            }
        ],
        tool_choice={"type": "function", "name": "get_ticket"},
        parallel_tool_calls=False,
        text={
            "format": {"type": "json_schema", "name": "ticket", "schema": schema, "strict": True}
        },
        max_output_tokens=256,
        temperature=0.3,
        reasoning={"effort": "low", "summary": "auto"},
        extra_body={"prompt_cache_retention": "24h"},
    )

    body = body_of(last_call(upstream))
    assert body["instructions"] == "You are a support agent."
    assert body["tools"] == [
        {
            "type": "function",
            "name": "get_ticket",
            "description": "Fetch a ticket.",
            "parameters": schema,
            "strict": True,
        }
    ]
    assert body["tool_choice"] == {"type": "function", "name": "get_ticket"}
    assert body["parallel_tool_calls"] is False
    assert body["text"] == {
        "format": {"type": "json_schema", "name": "ticket", "schema": schema, "strict": True}
    }
    assert body["max_output_tokens"] == 256
    assert body["temperature"] == 0.3
    assert body["reasoning"] == {"effort": "low", "summary": "auto"}
    assert body["prompt_cache_retention"] == "24h"  # unknown keys pass through


def test_previous_response_id_sends_the_full_history_without_old_instructions(
    client: openai.OpenAI, upstream: FakeUpstream
) -> None:
    first = client.responses.create(
        model="upstream/gpt-4o", input="first question", instructions="Answer tersely."
    )
    second = client.responses.create(
        model="upstream/gpt-4o", input="second question", previous_response_id=first.id
    )
    sent = body_of(last_call(upstream))
    assert "instructions" not in sent
    assert transcript(sent["input"]) == [
        ("user", "first question"),
        ("assistant", "You said: first question"),
        ("user", "second question"),
    ]
    assert all("id" not in item for item in sent["input"])  # our ids mean nothing upstream

    client.responses.create(
        model="upstream/gpt-4o",
        input="third question",
        instructions="New rules.",
        previous_response_id=second.id,
    )
    sent = body_of(last_call(upstream))
    assert sent["instructions"] == "New rules."
    assert transcript(sent["input"]) == [
        ("user", "first question"),
        ("assistant", "You said: first question"),
        ("user", "second question"),
        ("assistant", "You said: second question"),
        ("user", "third question"),
    ]


def test_streaming_passes_events_and_upstream_usage_through(
    client: openai.OpenAI, upstream: FakeUpstream
) -> None:
    upstream.usage = UPSTREAM_USAGE
    with client.responses.create(
        model="upstream/gpt-4o", input="stream this please", stream=True
    ) as stream:
        events = list(stream)

    body = body_of(last_call(upstream))
    assert (body["stream"], body["store"]) == (True, False)
    assert upstream.calls()[-1].headers["accept"] == "text/event-stream"
    assert events[0].type == "response.created"
    assert events[-1].type == "response.completed"
    numbers = [event.sequence_number for event in events]
    assert numbers == list(range(len(events)))
    final = events[-1].response
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == final.output_text == "You said: stream this please"
    assert final.usage is not None
    assert final.usage.model_dump(exclude_none=True) == UPSTREAM_USAGE


def test_stream_helper_gets_the_final_response(
    client: openai.OpenAI, upstream: FakeUpstream
) -> None:
    upstream.usage = UPSTREAM_USAGE
    with client.responses.stream(model="upstream/gpt-4o", input="helper stream") as stream:
        text = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        final = stream.get_final_response()

    assert text == final.output_text == "You said: helper stream"
    assert final.usage is not None
    assert final.usage.model_dump(exclude_none=True) == UPSTREAM_USAGE
    assert client.responses.retrieve(final.id).output_text == final.output_text


def test_stream_event_larger_than_a_read_buffer_is_relayed(
    client: openai.OpenAI, upstream: FakeUpstream
) -> None:
    # The upstream echoes the tools in its lifecycle events, so each of those is one SSE
    # line of ~1.2 MB; aiohttp's readline() refuses lines over 512 KiB.
    description = "Looks things up. " * 70_000
    parameters: Body = {"type": "object", "properties": {}}
    with client.responses.create(
        model="upstream/gpt-4o",
        input="hi",
        tools=[
            {
                "type": "function",
                "name": "lookup",
                "description": description,
                "parameters": parameters,
                "strict": False,
            }
        ],
        stream=True,
    ) as stream:
        events = list(stream)

    call = last_call(upstream)
    assert call.headers["content-type"] == "application/json"  # also for a >1 MiB body
    assert len(body_of(call)["tools"][0]["description"]) == len(description)
    assert events[-1].type == "response.completed"
    final = events[-1].response
    assert final.status == "completed"
    assert [item.type for item in final.output] == ["function_call"]


def test_input_tokens_are_counted_upstream(client: openai.OpenAI, upstream: FakeUpstream) -> None:
    counted = client.responses.input_tokens.count(
        model="upstream/gpt-4o", input="how many tokens", instructions="Be brief."
    )

    call = last_call(upstream, "/responses/input_tokens")
    assert call.path == "/v1/responses/input_tokens"
    assert call.headers["authorization"] == "Bearer sk-test-upstream-key"
    body = body_of(call)
    assert (body["model"], body["instructions"]) == ("upstream/gpt-4o", "Be brief.")
    assert "store" not in body
    # The fake counts words and punctuation: "Be brief." = 3; the message 3 + 3 = 6.
    assert counted.input_tokens == 9
    assert upstream.calls() == []  # counting does not run the model


# -- errors through the SDK ----------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_rate_limit_keeps_retry_after(
    client: openai.OpenAI, upstream: FakeUpstream, stream: bool
) -> None:
    upstream.fail(429, retry_after=7, message="Slow down.")
    with pytest.raises(openai.RateLimitError) as caught:
        client.responses.create(model="upstream/gpt-4o", input="hi", stream=stream)

    error = caught.value
    assert error.status_code == 429
    assert error.response.headers["retry-after"] == "7"
    assert error.response.headers["retry-after-ms"] == "7000"
    assert error.code == "rate_limit_exceeded"
    assert "Slow down." in error.message


def test_unusable_retry_after_is_dropped(client: openai.OpenAI, upstream: FakeUpstream) -> None:
    upstream.fail(429, retry_after=float("inf"))  # sent as "retry-after: inf"
    with pytest.raises(openai.RateLimitError) as caught:
        client.responses.create(model="upstream/gpt-4o", input="hi")
    assert "retry-after" not in caught.value.response.headers


def test_stream_helper_raises_the_upstream_error(
    client: openai.OpenAI, upstream: FakeUpstream
) -> None:
    upstream.fail(429, retry_after=2)
    with (
        pytest.raises(openai.RateLimitError) as caught,
        client.responses.stream(model="upstream/gpt-4o", input="hi") as stream,
    ):
        stream.get_final_response()
    assert caught.value.response.headers["retry-after"] == "2"


@pytest.mark.parametrize("status", [500, 503])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_upstream_server_errors(
    client: openai.OpenAI, upstream: FakeUpstream, status: int, stream: bool
) -> None:
    upstream.fail(status, message="upstream exploded")
    with pytest.raises(openai.InternalServerError) as caught:
        client.responses.create(model="upstream/gpt-4o", input="hi", stream=stream)
    assert caught.value.status_code == status
    assert "upstream exploded" in caught.value.message


def test_upstream_auth_failure(client: openai.OpenAI, upstream: FakeUpstream) -> None:
    upstream.fail(401, message="Incorrect API key provided.", code="invalid_api_key")
    with pytest.raises(openai.AuthenticationError) as caught:
        client.responses.create(model="upstream/gpt-4o", input="hi")
    assert caught.value.code == "invalid_api_key"


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_upstream_bad_request_keeps_param(
    extra_client: openai.OpenAI, own_upstream: ParamFaultUpstream, stream: bool
) -> None:
    own_upstream.param_faults.append((400, "Invalid 'input[0].content'.", "input[0].content"))
    with pytest.raises(openai.BadRequestError) as caught:
        extra_client.responses.create(model="compat/m", input="hi", stream=stream)

    error = caught.value
    assert (error.param, error.code, error.type) == (
        "input[0].content",
        "invalid_value",
        "invalid_request_error",
    )
    assert len(own_upstream.calls()) == 1


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_unreachable_upstream_is_502(extra_client: openai.OpenAI, stream: bool) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        extra_client.responses.create(model="dead/gpt-4o", input="hi", stream=stream)
    assert caught.value.status_code == 502
    assert caught.value.code == "upstream_unreachable"


def test_upstream_timeout_is_504(
    extra_client: openai.OpenAI, own_upstream: ParamFaultUpstream
) -> None:
    own_upstream.latency_s = 1.0  # the provider gives up after 0.2 s
    with pytest.raises(openai.InternalServerError) as caught:
        extra_client.responses.create(model="slow/m", input="hi")
    assert caught.value.status_code == 504
    assert caught.value.code == "upstream_timeout"


# -- azure ---------------------------------------------------------------------------------


def test_azure_dated_api_version(client: openai.OpenAI, upstream: FakeUpstream) -> None:
    response = client.responses.create(model="azure/gpt-4o", input="hello azure")

    call = last_call(upstream)
    assert call.path == "/openai/responses"
    assert call.query == {"api-version": ["2025-04-01-preview"]}
    assert call.headers["api-key"] == "azure-test-key"
    assert "authorization" not in call.headers
    assert body_of(call)["model"] == "my-gpt4o-deployment"
    assert response.model == "azure/gpt-4o"
    assert response.output_text == "You said: hello azure"


def test_azure_dated_input_tokens(client: openai.OpenAI, upstream: FakeUpstream) -> None:
    client.responses.input_tokens.count(model="azure/gpt-4o", input="count me")

    call = last_call(upstream, "/input_tokens")
    assert call.path == "/openai/responses/input_tokens"
    assert call.query == {"api-version": ["2025-04-01-preview"]}
    assert call.headers["api-key"] == "azure-test-key"
    assert body_of(call)["model"] == "my-gpt4o-deployment"


def test_azure_v1_endpoint(extra_client: openai.OpenAI, own_upstream: ParamFaultUpstream) -> None:
    extra_client.responses.create(model="azure-v1/gpt-4o", input="hi")

    call = last_call(own_upstream)
    assert (call.path, call.query) == ("/openai/v1/responses", {})
    assert call.headers["api-key"] == "azure-v1-key"
    assert "authorization" not in call.headers


def test_azure_entra_token_is_cached(
    extra_client: openai.OpenAI, own_upstream: ParamFaultUpstream, credential: FakeCredential
) -> None:
    response = extra_client.responses.create(model="entra/gpt-4o", input="one")
    credential.token = "tok-456"  # a fresh fetch would now give this one
    extra_client.responses.create(model="entra/gpt-4o", input="two")

    first, second = own_upstream.calls()
    for call in (first, second):
        assert call.path == "/openai/responses"
        assert call.headers["authorization"] == "Bearer tok-123"
        assert "api-key" not in call.headers
    assert body_of(first)["model"] == "entra-deployment"
    assert response.model == "entra/gpt-4o"
    assert credential.scopes == [COGNITIVE_SERVICES_SCOPE]


def test_azure_entra_token_is_refreshed_near_expiry(
    extra_client: openai.OpenAI, own_upstream: ParamFaultUpstream, credential: FakeCredential
) -> None:
    credential.lifetime_s = 60.0  # inside the 5-minute refresh margin
    extra_client.responses.create(model="entra-refresh/gpt-4o", input="one")
    credential.token = "tok-456"
    extra_client.responses.create(model="entra-refresh/gpt-4o", input="two")

    sent = [call.headers["authorization"] for call in own_upstream.calls()]
    assert sent == ["Bearer tok-123", "Bearer tok-456"]
    assert credential.scopes == [COGNITIVE_SERVICES_SCOPE, COGNITIVE_SERVICES_SCOPE]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_azure_entra_failure_is_502(
    extra_client: openai.OpenAI,
    own_upstream: ParamFaultUpstream,
    credential: FakeCredential,
    stream: bool,
) -> None:
    credential.fail = True
    with pytest.raises(openai.InternalServerError) as caught:
        extra_client.responses.create(model="entra-broken/gpt-4o", input="hi", stream=stream)

    assert (caught.value.status_code, caught.value.code) == (502, "upstream_auth_failed")
    assert credential.scopes == [COGNITIVE_SERVICES_SCOPE]
    assert own_upstream.requests == []


def test_foundry_project_endpoint(
    extra_client: openai.OpenAI, own_upstream: ParamFaultUpstream, credential: FakeCredential
) -> None:
    response = extra_client.responses.create(model="foundry/gpt-4o", input="hi foundry")

    call = last_call(own_upstream)
    assert (call.path, call.query) == ("/api/projects/myproj/openai/v1/responses", {})
    assert call.headers["authorization"] == "Bearer tok-123"
    assert credential.scopes == [FOUNDRY_SCOPE]
    assert body_of(call)["model"] == "foundry/gpt-4o"
    assert response.output_text == "You said: hi foundry"


# -- openai-compatible ---------------------------------------------------------------------


def test_openai_compatible_without_key_sends_configured_headers(
    extra_client: openai.OpenAI, own_upstream: ParamFaultUpstream
) -> None:
    extra_client.responses.create(
        model="compat/llama", input="hi", extra_headers={"X-Request-ID": "req-compat"}
    )

    call = last_call(own_upstream)
    assert call.path == "/compat/v1/responses"
    assert "authorization" not in call.headers
    assert "api-key" not in call.headers
    assert call.headers["x-tenant"] == "acme"
    assert call.headers["openai-organization"] == "org-42"
    assert call.headers["x-request-id"] == "req-compat"
    assert body_of(call)["model"] == "compat/llama"
