"""Rendering errors in the wire envelope, with ``retry-after`` where it applies."""

from __future__ import annotations

import logging
import math

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from pilothouse.errors import InvalidRequest, NotFound, PilothouseError

log = logging.getLogger(__name__)


def error_response(error: PilothouseError) -> Response:
    """The JSON envelope for ``error`` with its status and retry headers."""
    headers: dict[str, str] = {}
    if error.retry_after is not None:
        headers["retry-after"] = str(max(0, math.ceil(error.retry_after)))
        headers["retry-after-ms"] = str(max(0, int(error.retry_after * 1000)))
    return Response(
        orjson.dumps(error.to_wire()),
        status_code=error.status,
        headers=headers,
        media_type="application/json",
    )


async def on_pilothouse_error(request: Request, exc: Exception) -> Response:
    """Errors raised on purpose, their message redacted: an upstream's error may quote
    what it was sent, a provider key included (OpenAI's 401 does)."""
    assert isinstance(exc, PilothouseError)
    boundary = getattr(getattr(request.app.state, "services", None), "boundary", None)
    if boundary is not None:
        exc.message = boundary.text(exc.message)
    return error_response(exc)


async def on_http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own errors (unknown route, wrong method) in our envelope."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return error_response(NotFound(f"Unknown path: {request.url.path}", code="unknown_url"))
    error = InvalidRequest(str(exc.detail), code="method_not_allowed")
    error.status = exc.status_code
    return error_response(error)


async def on_unexpected(_request: Request, exc: Exception) -> Response:
    """Anything else: a 500 in the envelope, the details only in the log."""
    log.exception("unhandled error", exc_info=exc)
    return error_response(PilothouseError("The server had an error processing your request."))
