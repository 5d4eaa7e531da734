"""The filters of ``GET /admin/v1/runs`` from its query string, validated."""

from __future__ import annotations

import time

from starlette.datastructures import QueryParams

from pilothouse.errors import InvalidRequest
from pilothouse.observability.scorecard.build import parse_duration
from pilothouse.storage.outcomes import RunQuery

MAX_LIMIT = 1000


def run_query(params: QueryParams) -> RunQuery:
    """``agent``, ``status``, ``since`` (a duration such as ``7d``) and ``limit`` (1 to 1000)."""
    since = params.get("since")
    raw_limit = params.get("limit", "50")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
        raise InvalidRequest(
            f"'limit' must be an integer from 1 to {MAX_LIMIT}.",
            param="limit",
            code="invalid_value",
        )
    return RunQuery(
        agent=params.get("agent") or None,
        status=params.get("status") or None,
        since=time.time() - parse_duration(since) if since else None,
        limit=int(raw_limit),
    )
