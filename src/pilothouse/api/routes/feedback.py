"""Feedback routes: ``POST`` and ``GET /v1/responses/{response_id}/feedback``.

The rules (score range, labels, sources, tenancy) are in
:mod:`pilothouse.observability.feedback`; this module only maps HTTP to that service.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pilothouse.api.http import context, json_body, json_response, services
from pilothouse.errors import ServiceUnavailable
from pilothouse.observability.feedback import FeedbackService


def _service(request: Request) -> FeedbackService:
    found = services(request)
    if found.outcomes is None:
        raise ServiceUnavailable("This store does not keep feedback.", code="no_feedback_store")
    return FeedbackService(found.store, found.outcomes)


async def create(request: Request) -> Response:
    """Record a client's (or an eval's) grade of a response."""
    body = await json_body(request)
    ctx = context(request)
    principal = ctx.principal.key_id if ctx.principal is not None else None
    record = await _service(request).record(
        ctx.tenant, request.path_params["response_id"], body, principal
    )
    return json_response(record.to_dict())


async def list_feedback(request: Request) -> Response:
    """A response's feedback, oldest first."""
    records = await _service(request).list(
        context(request).tenant, request.path_params["response_id"]
    )
    return json_response({"object": "list", "data": [r.to_dict() for r in records]})


routes = [
    Route("/v1/responses/{response_id}/feedback", create, methods=["POST"]),
    Route("/v1/responses/{response_id}/feedback", list_feedback, methods=["GET"]),
]
