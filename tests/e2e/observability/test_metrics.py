"""``/metrics`` scraped over HTTP and parsed with prometheus_client's parser: values after
known traffic, identical usage and cost for a streamed and a non-streamed run, the
series whose producers land later, and the ``metrics_public`` switch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import openai
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from pilothouse.testing import FakeUpstream, ServerThread
from pilothouse.testing.tool_server import FaultyToolServer
from tests.conftest import auth_headers, server_settings
from tests.e2e.observability.conftest import named, wait_for_spans

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
NOTE = "Check INC-1 and add a note to it: router rebooted."


def scrape(http: httpx.Client) -> tuple[Samples, set[str]]:
    """Every sample of ``/metrics`` by (name, labels), and the family names."""
    answer = http.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    families: set[str] = set()
    for family in text_string_to_metric_families(answer.text):
        families.add(family.name)
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples, families


def value(samples: Samples, metric: str, /, **labels: str) -> float:
    """A sample's value (0 when absent: a counter not incremented yet)."""
    return samples.get((metric, frozenset(labels.items())), 0.0)


def delta(before: Samples, after: Samples, metric: str, /, **labels: str) -> float:
    """How much a sample grew between two scrapes."""
    return value(after, metric, **labels) - value(before, metric, **labels)


def test_metrics_after_known_traffic(
    obs: openai.OpenAI,
    obs_http: httpx.Client,
    obs_tools: FaultyToolServer,
    upstream: FakeUpstream,
) -> None:
    before, _ = scrape(obs_http)
    plain = [obs.responses.create(model="upstream/gpt-4o", input=f"Hi {n}") for n in range(2)]
    obs_tools.fail("status", times=1, status=503, path="/notes")
    run = obs.responses.create(model="agent:noter", input=NOTE)
    obs_tools.fail("status", times=1, status=400, path="/notes")
    failing = obs.responses.create(model="agent:noter", input=NOTE)
    missing = obs_http.get("/v1/responses/resp_missing", headers=auth_headers())
    assert missing.status_code == 404
    after, _ = scrape(obs_http)

    post = {"method": "POST", "route": "/v1/responses"}
    assert delta(before, after, "pilothouse_http_requests_total", **post, status="200") == 4
    assert (
        delta(
            before,
            after,
            "pilothouse_http_requests_total",
            method="GET",
            route="/v1/responses/{response_id}",
            status="404",
        )
        == 1
    )
    assert delta(before, after, "pilothouse_http_request_duration_seconds_count", **post) == 4
    assert delta(before, after, "pilothouse_runs_total", agent="noter", status="completed") == 2
    assert delta(before, after, "pilothouse_run_duration_seconds_count", agent="noter") == 2

    plain_in = sum(r.usage.input_tokens for r in plain)  # type: ignore[union-attr]
    plain_out = sum(r.usage.output_tokens for r in plain)  # type: ignore[union-attr]
    model = {"model": "upstream/gpt-4o"}
    assert delta(before, after, "pilothouse_tokens_total", **model, direction="input") == plain_in
    assert delta(before, after, "pilothouse_tokens_total", **model, direction="output") == (
        plain_out
    )
    assert delta(before, after, "pilothouse_model_calls_total", **model, status="completed") == 2
    agent_in = run.usage.input_tokens + failing.usage.input_tokens  # type: ignore[union-attr]
    mini = {"model": "gpt-4o-mini", "direction": "input"}
    assert delta(before, after, "pilothouse_tokens_total", **mini) == agent_in
    cost = sum(r.model_extra["pilothouse"]["cost_usd"] for r in (run, failing))  # type: ignore[index]
    assert delta(before, after, "pilothouse_cost_usd_total", agent="noter") == pytest.approx(cost)

    note = {"tool": "add_incident_note"}
    assert delta(before, after, "pilothouse_tool_retries_total", **note) == 1
    assert delta(before, after, "pilothouse_tool_calls_total", **note, outcome="ok") == 1
    assert delta(before, after, "pilothouse_tool_calls_total", **note, outcome="http_400") == 1
    assert delta(before, after, "pilothouse_tool_errors_total", **note, code="http_400") == 1
    assert delta(before, after, "pilothouse_tool_calls_total", tool="get_ticket", outcome="ok") == 2
    assert delta(before, after, "pilothouse_tool_call_duration_seconds_count", **note) == 2

    assert value(after, "pilothouse_breaker_state", kind="tool", name="add_incident_note") == 0
    assert value(after, "pilothouse_breaker_state", kind="tool", name="get_ticket") == 0
    assert value(after, "pilothouse_background_runs_in_flight") == 0


def test_streamed_and_plain_runs_record_identical_usage_and_cost(
    obs: openai.OpenAI, obs_http: httpx.Client, span_exporter: InMemorySpanExporter
) -> None:
    figures: list[tuple[Any, ...]] = []
    for stream in (False, True):
        span_exporter.clear()
        before, _ = scrape(obs_http)
        if stream:
            with obs.responses.stream(model="agent:noter", input=NOTE) as events:
                response = events.get_final_response()
        else:
            response = obs.responses.create(model="agent:noter", input=NOTE)
        spans = wait_for_spans(span_exporter, lambda s: bool(named(s, "POST ")))
        after, _ = scrape(obs_http)
        (run,) = named(spans, "invoke_agent ")
        attrs = dict(run.attributes or {})
        chats = named(spans, "chat ")
        figures.append(
            (
                response.usage.input_tokens,  # type: ignore[union-attr]
                response.usage.output_tokens,  # type: ignore[union-attr]
                response.model_extra["pilothouse"]["cost_usd"],  # type: ignore[index]
                attrs["gen_ai.usage.input_tokens"],
                attrs["gen_ai.usage.output_tokens"],
                attrs["pilothouse.cost_usd"],
                tuple(
                    sorted(dict(c.attributes or {})["gen_ai.usage.output_tokens"] for c in chats)
                ),
                delta(before, after, "pilothouse_cost_usd_total", agent="noter"),
                delta(
                    before, after, "pilothouse_tokens_total", model="gpt-4o-mini", direction="input"
                ),
                delta(
                    before,
                    after,
                    "pilothouse_tokens_total",
                    model="gpt-4o-mini",
                    direction="output",
                ),
            )
        )
    plain, streamed = figures
    assert plain[0] > 0 and plain[2] > 0
    assert plain[:7] == streamed[:7]  # the same arithmetic on the same usage: exactly equal
    # Metric deltas are differences of running sums: equal up to float rounding.
    assert plain[7:] == pytest.approx(streamed[7:])
    # Each view agrees with the response: spans and metrics see what the client was told.
    assert plain[3:6] == pytest.approx(plain[0:3])
    assert plain[7] == pytest.approx(plain[2]) and plain[8] == plain[0] and plain[9] == plain[1]


def test_series_of_later_producers_are_exported(obs_http: httpx.Client) -> None:
    _, families = scrape(obs_http)
    assert {
        "pilothouse_policy_decisions",
        "pilothouse_policy_denials",
        "pilothouse_budget_usage_ratio",
        "pilothouse_budget_rejections",
        "pilothouse_approvals_pending",
        "pilothouse_breaker_state",
        "pilothouse_background_runs_in_flight",
    } <= families


@pytest.fixture
def private_metrics(upstream: FakeUpstream, tmp_path: Path) -> Iterator[httpx.Client]:
    settings = server_settings(
        f"sqlite:///{tmp_path / 'private.db'}", upstream, tmp_path
    ).model_copy(update={"metrics_public": False})
    thread = ServerThread(settings).start()
    try:
        with httpx.Client(base_url=thread.root_url, timeout=30) as http:
            yield http
    finally:
        thread.stop()


def test_private_metrics_need_a_key(private_metrics: httpx.Client) -> None:
    refused = private_metrics.get("/metrics")
    assert refused.status_code == 401
    error = refused.json()["error"]
    assert error["type"] == "authentication_error" and error["code"] == "missing_api_key"
    assert private_metrics.get("/metrics", headers=auth_headers()).status_code == 200


def test_policy_decisions_are_counted(obs: openai.OpenAI, obs_http: httpx.Client) -> None:
    """Every Cedar decision of a run (invoke_agent, use_model per step, call_tool per call)
    is counted by action and outcome."""
    before, _ = scrape(obs_http)
    run = obs.responses.create(model="agent:noter", input=NOTE)
    after, _ = scrape(obs_http)
    calls = sum(1 for item in run.output if item.type == "mcp_call")
    steps = run.model_dump()["pilothouse"]["steps"]
    decided = "pilothouse_policy_decisions_total"
    assert delta(before, after, decided, action="invoke_agent", outcome="allow") == 1
    assert delta(before, after, decided, action="use_model", outcome="allow") == steps
    assert delta(before, after, decided, action="call_tool", outcome="allow") == calls > 0


def test_a_wrong_key_is_refused_for_private_metrics(private_metrics: httpx.Client) -> None:
    wrong = private_metrics.get("/metrics", headers={"Authorization": "Bearer phk_nope_x"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_api_key"
