"""``GET /metrics``: the Prometheus text exposition of the process's series.

An operator endpoint. With ``metrics_public`` (the default, meant for a server that
listens on loopback or behind a private network) it answers without an API key, like
health; with it off, a caller must present a key. API-key authentication lands in
parallel: until it does, the check here only demands that a key is presented, and the
auth middleware will verify it (and its operate/admin role) like any other request's.
"""

from __future__ import annotations

from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pilothouse.api.http import services
from pilothouse.errors import AuthenticationFailed


async def metrics(request: Request) -> Response:
    """GET /metrics."""
    found = services(request)
    if not found.settings.metrics_public and not _has_key(request):
        raise AuthenticationFailed(
            "/metrics needs an API key (metrics_public is off).", code="missing_api_key"
        )
    return Response(found.telemetry.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


def _has_key(request: Request) -> bool:
    authorization = request.headers.get("authorization", "")
    return authorization.lower().startswith("bearer ") and len(authorization) > len("bearer ")


routes = [Route("/metrics", metrics, methods=["GET"])]
