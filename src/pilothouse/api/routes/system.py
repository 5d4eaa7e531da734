"""Models, health, readiness and the OpenAPI document."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pilothouse.api.http import json_response, services
from pilothouse.api.openapi import openapi_document
from pilothouse.errors import NotFound, ServiceUnavailable

STARTED_AT = 1_767_225_600  # the "created" of every model entry: they have no real date


def _model(name: str) -> dict[str, object]:
    return {"id": name, "object": "model", "created": STARTED_AT, "owned_by": "pilothouse"}


async def list_models(request: Request) -> Response:
    """GET /v1/models."""
    found = services(request)
    names = found.router.model_names() + found.responses.agents.names()
    return json_response({"object": "list", "data": [_model(n) for n in names]})


async def get_model(request: Request) -> Response:
    """GET /v1/models/{model}: any name the routing table serves."""
    name = request.path_params["model"]
    found = services(request)
    if name not in found.router.model_names() + found.responses.agents.names():
        raise NotFound(f"The model '{name}' is not listed.", param="model", code="model_not_found")
    return json_response(_model(name))


async def healthz(_request: Request) -> Response:
    """Liveness: the process answers."""
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Readiness: the store answers."""
    try:
        await services(request).store.ping()
    except Exception as exc:
        raise ServiceUnavailable(
            f"The store is not reachable: {type(exc).__name__}.", retry_after=1
        ) from None
    return json_response({"status": "ready"})


async def openapi(_request: Request) -> Response:
    """GET /openapi.json."""
    return json_response(openapi_document())


routes = [
    Route("/v1/models", list_models, methods=["GET"]),
    Route("/v1/models/{model:path}", get_model, methods=["GET"]),
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/openapi.json", openapi, methods=["GET"]),
]
