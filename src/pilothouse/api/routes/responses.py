"""``/v1/responses``: create (JSON or SSE), retrieve (or replay), delete, cancel, input
items and input tokens."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pilothouse.api.http import (
    context,
    json_body,
    json_response,
    page,
    paging,
    raw_json,
    services,
    sse,
)
from pilothouse.errors import InvalidRequest
from pilothouse.protocol.requests import CreateResponse, InputTokensRequest, parse
from pilothouse.runtime.responses import Streamed


async def create(request: Request) -> Response:
    """POST /v1/responses."""
    body = parse(CreateResponse, await json_body(request))
    outcome = await services(request).responses.create(body, context(request))
    if isinstance(outcome, Streamed):
        return sse(outcome.frames)
    return raw_json(outcome.body())


async def retrieve(request: Request) -> Response:
    """GET /v1/responses/{id}, or its event stream with ``stream=true``."""
    response_id = request.path_params["response_id"]
    tenant = context(request).tenant
    responses = services(request).responses
    if request.query_params.get("stream", "false").lower() == "true":
        starting_after = _starting_after(request)
        await responses.retrieve(tenant, response_id)  # 404 before the stream starts
        return sse(responses.follow(tenant, response_id, starting_after))
    return raw_json(await responses.retrieve_raw(tenant, response_id))


def _starting_after(request: Request) -> int | None:
    raw = request.query_params.get("starting_after")
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise InvalidRequest(
            "Invalid 'starting_after': expected an integer.",
            param="starting_after",
            code="invalid_value",
        ) from None


async def delete(request: Request) -> Response:
    """DELETE /v1/responses/{id}."""
    result = await services(request).responses.delete(
        context(request).tenant, request.path_params["response_id"]
    )
    return json_response(result)


async def cancel(request: Request) -> Response:
    """POST /v1/responses/{id}/cancel."""
    result = await services(request).responses.cancel(
        context(request).tenant, request.path_params["response_id"]
    )
    return json_response(result)


async def input_items(request: Request) -> Response:
    """GET /v1/responses/{id}/input_items."""
    after, limit, order = paging(request)
    result = await services(request).responses.input_items(
        context(request).tenant,
        request.path_params["response_id"],
        after=after,
        limit=limit,
        order=order,
    )
    return json_response(page(result))


async def input_tokens(request: Request) -> Response:
    """POST /v1/responses/input_tokens."""
    body = parse(InputTokensRequest, await json_body(request))
    count = await services(request).responses.input_tokens(body, context(request))
    return json_response({"object": "response.input_tokens", "input_tokens": count})


routes = [
    Route("/v1/responses", create, methods=["POST"]),
    Route("/v1/responses/input_tokens", input_tokens, methods=["POST"]),
    Route("/v1/responses/{response_id}", retrieve, methods=["GET"]),
    Route("/v1/responses/{response_id}", delete, methods=["DELETE"]),
    Route("/v1/responses/{response_id}/cancel", cancel, methods=["POST"]),
    Route("/v1/responses/{response_id}/input_items", input_items, methods=["GET"]),
]
