"""Every Prometheus series Pilothouse exports, and the functions that feed them.

The series live on a :class:`~prometheus_client.CollectorRegistry` of their own (not the
library's global one), so that several servers in one process — tests do that — never
share counters. Producers call the small methods below; nothing else touches a metric
object, which keeps names, labels and units in this one file.

Series (all prefixed ``pilothouse_``)::

    http_requests_total{method,route,status}         ingress, by HTTP status
    http_request_duration_seconds{method,route}      ingress latency
    runs_total{agent,status}                         agent runs, by final status
    run_duration_seconds{agent}                      agent run latency
    model_calls_total{model,status}                  model calls (plain and agent)
    model_call_duration_seconds{model}               model call latency
    tokens_total{model,direction}                    input / output tokens by model
    cost_usd_total{agent}                            spend of agent runs
    limit_hits_total{agent,limit}                    runs ended by a bound
    tool_calls_total{tool,outcome}                   governed tool calls (ok / error code)
    tool_call_duration_seconds{tool}                 tool call latency (all attempts)
    tool_retries_total{tool}                         attempts beyond the first
    tool_errors_total{tool,code}                     failed tool calls by error code
    breaker_state{kind,name}                         0 closed, 1 half-open, 2 open  (.live)
    background_runs_in_flight                        queue depth                     (.live)
    policy_decisions_total{action,outcome}           policy engine    (PolicyGate.observe)
    policy_denials_total{action}                     policy engine    (PolicyGate.observe)
    budget_usage_ratio{scope,subject,window}         budgets          (Ledger.usage)
    budget_rejections_total{scope,window}            budgets          (Ledger.refused)
    approvals_pending                                approvals        (ApprovalService)

The last five are fed through hooks that ``wiring.py`` connects to
:meth:`Metrics.policy_decision`, :meth:`Metrics.budget_usage`, :meth:`Metrics.budget_rejected`
and :meth:`Metrics.set_pending_approvals`; a series nothing has fed yet is exported with
no samples (never a made-up value).

With a :class:`~pilothouse.observability.backlog.Backlog` (a serving process's telemetry
gives its own), producers only queue their update, which runs after the request path:
Prometheus's locks, label look-ups and bucket searches cost a request nothing.
:meth:`Metrics.exposition` runs what is queued first, so a scrape sees every update made
before it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

from pilothouse.observability.backlog import Backlog

# Seconds; ingress and runs span 5 ms to 2 min, tools and models 5 ms to 1 min.
_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)

P = ParamSpec("P")


def _deferred(
    update: Callable[Concatenate[Metrics, P], None],
) -> Callable[Concatenate[Metrics, P], None]:
    """A producer that queues ``update`` on the backlog, when there is one."""

    def produce(self: Metrics, /, *args: P.args, **kwargs: P.kwargs) -> None:
        backlog = self.backlog
        if backlog is None:
            update(self, *args, **kwargs)
        elif kwargs:
            backlog.add(functools.partial(update, self, *args, **kwargs))
        else:
            backlog.add(update, self, *args)

    functools.update_wrapper(produce, update)
    return produce


class Metrics:
    """The process's series. See the module docstring for the list.

    Producers on the request path go through :meth:`_child`, which keeps each labelled
    child in a dict: ``labels()`` validates and locks on every call (a few µs), a dict
    lookup costs a tenth of that, and label sets are few (bounded by routes, models,
    agents and tools).
    """

    def __init__(self, backlog: Backlog | None = None) -> None:
        self.backlog = backlog
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_requests = Counter(
            "pilothouse_http_requests", "HTTP requests by status.",
            ["method", "route", "status"], registry=r,
        )  # fmt: skip
        self.http_duration = Histogram(
            "pilothouse_http_request_duration_seconds", "Ingress latency.",
            ["method", "route"], buckets=_LATENCY, registry=r,
        )  # fmt: skip
        self.runs = Counter(
            "pilothouse_runs", "Agent runs by final status.", ["agent", "status"], registry=r
        )
        self.run_duration = Histogram(
            "pilothouse_run_duration_seconds", "Agent run latency.",
            ["agent"], buckets=_LATENCY, registry=r,
        )  # fmt: skip
        self.model_calls = Counter(
            "pilothouse_model_calls", "Model calls by outcome.", ["model", "status"], registry=r
        )
        self.model_duration = Histogram(
            "pilothouse_model_call_duration_seconds", "Model call latency.",
            ["model"], buckets=_LATENCY, registry=r,
        )  # fmt: skip
        self.tokens = Counter(
            "pilothouse_tokens", "Tokens by model and direction (input/output).",
            ["model", "direction"], registry=r,
        )  # fmt: skip
        self.cost = Counter(
            "pilothouse_cost_usd", "Spend of agent runs in USD.", ["agent"], registry=r
        )
        self.limit_hits = Counter(
            "pilothouse_limit_hits", "Runs ended by a bound.", ["agent", "limit"], registry=r
        )
        self.tool_calls = Counter(
            "pilothouse_tool_calls", "Governed tool calls by outcome (ok or error code).",
            ["tool", "outcome"], registry=r,
        )  # fmt: skip
        self.tool_duration = Histogram(
            "pilothouse_tool_call_duration_seconds", "Tool call latency, all attempts.",
            ["tool"], buckets=_LATENCY, registry=r,
        )  # fmt: skip
        self.tool_retries = Counter(
            "pilothouse_tool_retries", "Tool attempts beyond the first.", ["tool"], registry=r
        )
        self.tool_errors = Counter(
            "pilothouse_tool_errors", "Failed tool calls by code.", ["tool", "code"], registry=r
        )
        self._declare_hooked_series()

    def _declare_hooked_series(self) -> None:
        """Series fed by the policy gate, the budget ledger and the approval service."""
        r = self.registry
        self.policy_decisions = Counter(
            "pilothouse_policy_decisions", "Policy decisions by outcome.",
            ["action", "outcome"], registry=r,
        )  # fmt: skip
        self.policy_denials = Counter(
            "pilothouse_policy_denials", "Denied policy decisions.", ["action"], registry=r
        )
        self.budget_usage_ratio = Gauge(
            "pilothouse_budget_usage_ratio", "Budget used in the current window (0..1).",
            ["scope", "subject", "window"], registry=r,
        )  # fmt: skip
        self.budget_rejections = Counter(
            "pilothouse_budget_rejections", "Requests refused by a budget or rate limit.",
            ["scope", "window"], registry=r,
        )  # fmt: skip
        self.approvals_pending = Gauge(
            "pilothouse_approvals_pending", "Approval requests awaiting a decision.", registry=r
        )

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    # -- producers that exist ------------------------------------------------------------

    @_deferred
    def request_finished(self, method: str, route: str, status: int, seconds: float) -> None:
        """One HTTP request answered (called by the ingress middleware)."""
        self._child(self.http_requests, method, route, str(status)).inc()
        self._child(self.http_duration, method, route).observe(seconds)

    @_deferred
    def model_call(
        self, model: str, status: str, seconds: float, usage: dict[str, object] | None
    ) -> None:
        """One model call finished (``status``: the result's status, or ``error``)."""
        self._child(self.model_calls, model, status).inc()
        self._child(self.model_duration, model).observe(seconds)
        if usage:
            self._child(self.tokens, model, "input").inc(_count(usage.get("input_tokens")))
            self._child(self.tokens, model, "output").inc(_count(usage.get("output_tokens")))

    @_deferred
    def tool_call(self, tool: str, error_code: str | None, attempts: int, seconds: float) -> None:
        """One governed tool call finished, after all its attempts."""
        self._child(self.tool_calls, tool, error_code or "ok").inc()
        self._child(self.tool_duration, tool).observe(seconds)
        if attempts > 1:
            self._child(self.tool_retries, tool).inc(attempts - 1)
        if error_code is not None:
            self._child(self.tool_errors, tool, error_code).inc()

    @_deferred
    def run_finished(
        self, agent: str, status: str, seconds: float, cost_usd: float, limit: str | None
    ) -> None:
        """One agent run ended (any status, cancelled included)."""
        self._child(self.runs, agent, status).inc()
        self._child(self.run_duration, agent).observe(seconds)
        if cost_usd:
            self._child(self.cost, agent).inc(cost_usd)
        if limit is not None:
            self._child(self.limit_hits, agent, limit).inc()

    # -- fed through hooks (policy, budgets, approvals) ------------------------------------

    @_deferred
    def policy_decision(self, action: str, outcome: str) -> None:
        """The policy engine decided (``outcome``: ``allow``, ``deny``, ``needs_approval``).

        Call once per decision, with the Cedar action (``call_tool``, ``invoke_agent`` …).
        """
        self._child(self.policy_decisions, action, outcome).inc()
        if outcome == "deny":
            self._child(self.policy_denials, action).inc()

    @_deferred
    def budget_usage(self, scope: str, subject: str, window: str, ratio: float) -> None:
        """A budget's use after an update (``scope``: ``key`` or ``tenant``; ``subject``: the
        key id or tenant, never a secret; ``window``: ``minute`` or ``day``)."""
        self.budget_usage_ratio.labels(scope, subject, window).set(ratio)

    @_deferred
    def budget_rejected(self, scope: str, window: str) -> None:
        """A request was refused (429) by a budget or rate limit."""
        self._child(self.budget_rejections, scope, window).inc()

    @_deferred
    def set_pending_approvals(self, count: int) -> None:
        """How many approval requests await a decision (set after each change)."""
        self.approvals_pending.set(count)

    def exposition(self) -> bytes:
        """The text format of every series, for ``GET /metrics`` (queued updates first)."""
        if self.backlog is not None:
            self.backlog.flush()
        return generate_latest(self.registry)


def _count(value: object) -> float:
    return float(value) if isinstance(value, int | float) and value > 0 else 0.0
