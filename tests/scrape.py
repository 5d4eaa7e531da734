"""Reading one series of a test server's ``/metrics`` (Prometheus text format)."""

from __future__ import annotations

import httpx2 as httpx
from prometheus_client.parser import text_string_to_metric_families


def sample(root_url: str, name: str, **labels: str) -> float | None:
    """The value of sample ``name`` with exactly ``labels`` (None when absent)."""
    text = httpx.get(root_url + "/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and found.labels == labels:
                return float(found.value)
    return None
