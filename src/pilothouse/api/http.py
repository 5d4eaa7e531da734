"""Small helpers shared by the route modules: body parsing, JSON and SSE responses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from pilothouse.api.sse import SSEResponse
from pilothouse.errors import InvalidRequest
from pilothouse.runtime.turn import RequestContext
from pilothouse.storage.base import ItemPage
from pilothouse.wiring import Services


def services(request: Request) -> Services:
    """The process's services."""
    found: Services = request.app.state.services
    return found


async def json_body(request: Request) -> Any:
    """The parsed JSON body; a clear 400 when it is not JSON."""
    limit = services(request).settings.max_request_bytes
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        error = InvalidRequest(f"Request body exceeds {limit} bytes.", code="request_too_large")
        error.status = 413
        raise error
    raw = await request.body()
    if not raw:
        raise InvalidRequest(
            "The request body is empty; expected a JSON object.", code="invalid_json"
        )
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"The body is not valid JSON: {exc}.", code="invalid_json") from None


def context(request: Request) -> RequestContext:
    """The request's identity and correlation data."""
    state = request.scope.get("state", {})
    principal = state.get("principal")
    return RequestContext(
        tenant=principal.tenant if principal is not None else "default",
        principal=principal,
        request_id=state.get("request_id", ""),
        upstream_headers={
            "x-request-id": state.get("request_id", ""),
            "traceparent": state.get("traceparent", ""),
        },
        idempotency_key=request.headers.get("idempotency-key"),
    )


def json_response(payload: Any, status: int = 200) -> Response:
    """A JSON response encoded with orjson."""
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def raw_json(payload: bytes) -> Response:
    """Already-encoded JSON."""
    return Response(payload, media_type="application/json")


def sse(frames: AsyncIterator[bytes]) -> Response:
    """An SSE response over already-encoded frames (see :mod:`pilothouse.api.sse`)."""
    return SSEResponse(frames)


def page(result: ItemPage) -> dict[str, Any]:
    """The list envelope of a page of items."""
    data = result.items
    return {
        "object": "list",
        "data": data,
        "first_id": data[0].get("id") if data else None,
        "last_id": data[-1].get("id") if data else None,
        "has_more": result.has_more,
    }


def paging(request: Request) -> tuple[str | None, int, str]:
    """``after``, ``limit`` (1 to 100, default 20) and ``order`` (default desc) from the query."""
    query = request.query_params
    raw_limit = query.get("limit", "20")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 100:
        raise InvalidRequest(
            "Invalid 'limit': expected an integer between 1 and 100.",
            param="limit",
            code="invalid_value",
        )
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise InvalidRequest(
            "Invalid 'order': expected 'asc' or 'desc'.", param="order", code="invalid_value"
        )
    return query.get("after"), int(raw_limit), order
