"""Gauges read at scrape time: circuit breaker states and the background queue depth.

Keeping these as gauges updated on every transition would put work on the hot path and
spread metric calls through the breakers; reading them when Prometheus scrapes costs
nothing between scrapes. :class:`LiveCollector` is a custom collector on the process's
registry; the composition root tells it what to watch.

A breaker is found by walking a provider's wrappers (``.inner``) to the one with a
``breaker`` (see ``runtime/providers/breaker.py``); a tool gateway exposes its breakers
through ``contracts`` and ``breaker(name)`` (``runtime/tools/gateway.py``). Gateways are
held weakly: a release that is unloaded takes its gateway with it.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

# Numeric encoding of breaker states: larger is worse, so max() over replicas is the worst.
STATE_VALUES = {"closed": 0.0, "half_open": 1.0, "open": 2.0}


class LiveCollector(Collector):
    """Breaker states (``pilothouse_breaker_state``) and queue depth, computed on scrape."""

    def __init__(self) -> None:
        self._providers: Mapping[str, Any] = {}
        self._gateways: weakref.WeakSet[Any] = weakref.WeakSet()
        self._queue_depth: Callable[[], int] = lambda: 0

    def watch_providers(self, providers: Mapping[str, Any]) -> None:
        """The router's providers, by name."""
        self._providers = providers

    def watch_gateway(self, gateway: Any) -> None:
        """A tool gateway (one per loaded release); gateways without breakers are skipped."""
        if hasattr(gateway, "breaker") and hasattr(gateway, "contracts"):
            self._gateways.add(gateway)

    def watch_queue(self, depth: Callable[[], int]) -> None:
        """A function returning the number of background runs in flight."""
        self._queue_depth = depth

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """The gauges' current values (called by the registry on each scrape)."""
        states = GaugeMetricFamily(
            "pilothouse_breaker_state",
            "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
            labels=["kind", "name"],
        )
        for kind, name, value in self._breaker_states():
            states.add_metric([kind, name], value)
        yield states
        yield GaugeMetricFamily(
            "pilothouse_background_runs_in_flight",
            "Background responses queued or running in this process.",
            value=float(self._queue_depth()),
        )

    def _breaker_states(self) -> Iterable[tuple[str, str, float]]:
        for name, provider in sorted(self._providers.items()):
            breaker = _find_breaker(provider)
            if breaker is not None:
                yield "provider", name, STATE_VALUES[breaker.state]
        worst: dict[str, float] = {}
        for gateway in list(self._gateways):
            for tool in gateway.contracts:
                value = STATE_VALUES[gateway.breaker(tool).state]
                worst[tool] = max(value, worst.get(tool, 0.0))
        for tool, value in sorted(worst.items()):
            yield "tool", tool, value


def _find_breaker(provider: Any) -> Any:
    """The circuit breaker among a provider's wrappers, if it has one."""
    seen = 0
    while provider is not None and seen < 8:
        breaker = getattr(provider, "breaker", None)
        if breaker is not None and hasattr(breaker, "state"):
            return breaker
        provider = getattr(provider, "inner", None)
        seen += 1
    return None
