"""Prometheus metrics: one :class:`Metrics` per process, scraped at ``GET /metrics``.

:mod:`.registry` defines every series and the functions producers call;
:mod:`.live` reads gauges that are cheaper to compute at scrape time than to keep
(breaker states, queue depth).
"""

from pilothouse.observability.metrics.registry import Metrics

__all__ = ["Metrics"]
