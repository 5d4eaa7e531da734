"""The metrics registry: each producer function moves exactly its series, the series of
later producers exist without samples, and the live gauges read breakers and the queue."""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from pilothouse.observability.metrics import Metrics
from pilothouse.observability.metrics.live import LiveCollector
from pilothouse.runtime.tools.breaker import BreakerPolicy, CircuitBreaker
from pilothouse.runtime.tools.clock import ManualClock


def _samples(metrics: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = metrics.exposition().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_policy_budget_and_approval_producers() -> None:
    metrics = Metrics()
    metrics.policy_decision("call_tool", "allow")
    metrics.policy_decision("call_tool", "deny")
    metrics.policy_decision("call_tool", "deny")
    metrics.budget_usage("tenant", "acme", "day", 0.25)
    metrics.budget_rejected("key", "minute")
    metrics.set_pending_approvals(3)
    samples = _samples(metrics)
    labels = frozenset({("action", "call_tool"), ("outcome", "deny")})
    assert samples[("pilothouse_policy_decisions_total", labels)] == 2
    denials = frozenset({("action", "call_tool")})
    assert samples[("pilothouse_policy_denials_total", denials)] == 2
    usage = frozenset({("scope", "tenant"), ("subject", "acme"), ("window", "day")})
    assert samples[("pilothouse_budget_usage_ratio", usage)] == 0.25
    rejected = frozenset({("scope", "key"), ("window", "minute")})
    assert samples[("pilothouse_budget_rejections_total", rejected)] == 1
    assert samples[("pilothouse_approvals_pending", frozenset())] == 3


def test_pending_producers_export_no_made_up_values() -> None:
    samples = _samples(Metrics())
    names = {name for name, _ in samples}
    assert "pilothouse_policy_decisions_total" not in names  # no decision yet: no sample
    assert samples[("pilothouse_approvals_pending", frozenset())] == 0


def test_tool_and_run_producers() -> None:
    metrics = Metrics()
    metrics.tool_call("search_kb", None, 1, 0.01)
    metrics.tool_call("search_kb", "timeout", 3, 1.5)
    metrics.run_finished("desk", "incomplete", 2.0, 0.5, "max_steps")
    metrics.model_call("gpt-4o", "completed", 0.2, {"input_tokens": 10, "output_tokens": 4})
    samples = _samples(metrics)
    tool = frozenset({("tool", "search_kb")})
    assert samples[("pilothouse_tool_retries_total", tool)] == 2
    assert samples[("pilothouse_tool_errors_total", tool | {("code", "timeout")})] == 1
    assert samples[("pilothouse_tool_calls_total", tool | {("outcome", "ok")})] == 1
    assert samples[("pilothouse_tool_call_duration_seconds_count", tool)] == 2
    desk = frozenset({("agent", "desk")})
    assert samples[("pilothouse_limit_hits_total", desk | {("limit", "max_steps")})] == 1
    assert samples[("pilothouse_cost_usd_total", desk)] == 0.5
    model = frozenset({("model", "gpt-4o")})
    assert samples[("pilothouse_tokens_total", model | {("direction", "output")})] == 4


class _Gateway:
    def __init__(self, breakers: dict[str, CircuitBreaker]) -> None:
        self.contracts: dict[str, Any] = dict.fromkeys(breakers)
        self._breakers = breakers

    def breaker(self, name: str) -> CircuitBreaker:
        return self._breakers[name]


class _Provider:
    def __init__(self, inner: Any = None, breaker: Any = None) -> None:
        self.inner = inner
        self.breaker = breaker


def test_live_gauges_read_breakers_and_queue() -> None:
    clock = ManualClock()
    broken = CircuitBreaker(BreakerPolicy(failure_threshold=1, reset_timeout_s=30), clock)
    broken.record_failure()
    healthy = CircuitBreaker(BreakerPolicy(), clock)
    metrics = Metrics()
    live = LiveCollector()
    metrics.registry.register(live)
    gateway = _Gateway({"search_kb": broken, "get_ticket": healthy})
    live.watch_gateway(gateway)
    live.watch_providers({"openai": _Provider(inner=_Provider(breaker=healthy)), "bare": object()})
    live.watch_queue(lambda: 2)
    samples = _samples(metrics)
    assert (
        samples[("pilothouse_breaker_state", frozenset({("kind", "tool"), ("name", "search_kb")}))]
        == 2
    )
    assert (
        samples[("pilothouse_breaker_state", frozenset({("kind", "tool"), ("name", "get_ticket")}))]
        == 0
    )
    assert (
        samples[("pilothouse_breaker_state", frozenset({("kind", "provider"), ("name", "openai")}))]
        == 0
    )
    assert (
        "pilothouse_breaker_state",
        frozenset({("kind", "provider"), ("name", "bare")}),
    ) not in samples
    assert samples[("pilothouse_background_runs_in_flight", frozenset())] == 2
