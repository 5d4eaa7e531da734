"""``GET /metrics``: the Prometheus text exposition of the process's series.

An operator endpoint. With ``metrics_public`` (the default, meant for a server that
listens on loopback or behind a private network) it answers without an API key, like
health; with it off, the auth middleware (:mod:`pilothouse.api.auth`) demands a valid key
with the ``operate`` role, like any admin path.
"""

from __future__ import annotations

from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pilothouse.api.http import services


async def metrics(request: Request) -> Response:
    """GET /metrics."""
    found = services(request)
    return Response(found.telemetry.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


routes = [Route("/metrics", metrics, methods=["GET"])]
