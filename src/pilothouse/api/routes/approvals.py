"""The approvals admin API: list what waits, approve or deny it.

``GET /admin/v1/approvals?status=pending|approved|denied|used|expired``,
``GET /admin/v1/approvals/{id}``, ``POST /admin/v1/approvals/{id}/approve|deny`` with
``{reason?}``. Needs the ``approve`` role (:mod:`pilothouse.api.auth`); everything is
scoped to the key's tenant, so another tenant's approval id is a 404. A decision on a
background run starts its continuation (:mod:`pilothouse.runtime.agent.continuation`),
whose id the answer carries as ``continuation_response_id``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pilothouse.api.http import context, json_body, json_response, services
from pilothouse.control.principal import Principal
from pilothouse.errors import InvalidRequest, ServiceUnavailable
from pilothouse.runtime.agent.continuation import continue_background
from pilothouse.runtime.approvals import ApprovalService, approval_json

_STATUSES = ("pending", "approved", "denied", "used", "expired")


def _service(request: Request) -> tuple[ApprovalService, Principal]:
    approvals = services(request).approvals
    principal = context(request).principal
    if approvals is None or principal is None:
        raise ServiceUnavailable("Approvals are not available on this server.")
    return approvals, principal


async def list_approvals(request: Request) -> Response:
    """GET /admin/v1/approvals."""
    approvals, principal = _service(request)
    status = request.query_params.get("status")
    if status is not None and status not in _STATUSES:
        raise InvalidRequest(
            f"'status' must be one of {', '.join(_STATUSES)}.", param="status", code="invalid_value"
        )
    found = await approvals.list(principal.tenant, status)
    return json_response({"object": "list", "data": [approval_json(a) for a in found]})


async def get_approval(request: Request) -> Response:
    """GET /admin/v1/approvals/{approval_id}."""
    approvals, principal = _service(request)
    found = await approvals.get(principal.tenant, request.path_params["approval_id"])
    return json_response(approval_json(found))


async def _decide(request: Request, approve: bool) -> Response:
    approvals, principal = _service(request)
    body = await json_body(request) if await request.body() else {}
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object.", code="invalid_type")
    reason = body.get("reason", "")
    if not isinstance(reason, str):
        raise InvalidRequest("'reason' must be a string.", param="reason")
    decided = await approvals.decide(
        principal.tenant, request.path_params["approval_id"], approve, principal, reason
    )
    found = services(request)
    continuation = await continue_background(found.responses, found.store, found.journal, decided)
    return json_response({**approval_json(decided), "continuation_response_id": continuation})


async def approve(request: Request) -> Response:
    """POST /admin/v1/approvals/{approval_id}/approve."""
    return await _decide(request, True)


async def deny(request: Request) -> Response:
    """POST /admin/v1/approvals/{approval_id}/deny."""
    return await _decide(request, False)


routes = [
    Route("/admin/v1/approvals", list_approvals, methods=["GET"]),
    Route("/admin/v1/approvals/{approval_id}", get_approval, methods=["GET"]),
    Route("/admin/v1/approvals/{approval_id}/approve", approve, methods=["POST"]),
    Route("/admin/v1/approvals/{approval_id}/deny", deny, methods=["POST"]),
]
