"""``/v1/conversations``: conversations and their items."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pilothouse.api.http import context, json_body, json_response, page, paging, services
from pilothouse.protocol.requests import (
    CreateConversation,
    CreateConversationItems,
    UpdateConversation,
    parse,
)


def _ids(request: Request) -> tuple[str, str]:
    return context(request).tenant, request.path_params["conversation_id"]


async def create(request: Request) -> Response:
    """POST /v1/conversations."""
    body = parse(CreateConversation, await json_body(request))
    return json_response(
        await services(request).conversations.create(body, context(request).tenant)
    )


async def retrieve(request: Request) -> Response:
    """GET /v1/conversations/{id}."""
    return json_response(await services(request).conversations.retrieve(*_ids(request)))


async def update(request: Request) -> Response:
    """POST /v1/conversations/{id} (replace metadata)."""
    body = parse(UpdateConversation, await json_body(request))
    tenant, conversation_id = _ids(request)
    result = await services(request).conversations.update(tenant, conversation_id, body.metadata)
    return json_response(result)


async def delete(request: Request) -> Response:
    """DELETE /v1/conversations/{id}."""
    return json_response(await services(request).conversations.delete(*_ids(request)))


async def add_items(request: Request) -> Response:
    """POST /v1/conversations/{id}/items."""
    body = parse(CreateConversationItems, await json_body(request))
    tenant, conversation_id = _ids(request)
    result = await services(request).conversations.add_items(tenant, conversation_id, body)
    return json_response(page(result))


async def list_items(request: Request) -> Response:
    """GET /v1/conversations/{id}/items."""
    after, limit, order = paging(request)
    tenant, conversation_id = _ids(request)
    result = await services(request).conversations.list_items(
        tenant, conversation_id, after=after, limit=limit, order=order
    )
    return json_response(page(result))


async def get_item(request: Request) -> Response:
    """GET /v1/conversations/{id}/items/{item_id}."""
    tenant, conversation_id = _ids(request)
    item = await services(request).conversations.get_item(
        tenant, conversation_id, request.path_params["item_id"]
    )
    return json_response(item)


async def delete_item(request: Request) -> Response:
    """DELETE /v1/conversations/{id}/items/{item_id}."""
    tenant, conversation_id = _ids(request)
    result = await services(request).conversations.delete_item(
        tenant, conversation_id, request.path_params["item_id"]
    )
    return json_response(result)


routes = [
    Route("/v1/conversations", create, methods=["POST"]),
    Route("/v1/conversations/{conversation_id}", retrieve, methods=["GET"]),
    Route("/v1/conversations/{conversation_id}", update, methods=["POST"]),
    Route("/v1/conversations/{conversation_id}", delete, methods=["DELETE"]),
    Route("/v1/conversations/{conversation_id}/items", add_items, methods=["POST"]),
    Route("/v1/conversations/{conversation_id}/items", list_items, methods=["GET"]),
    Route("/v1/conversations/{conversation_id}/items/{item_id}", get_item, methods=["GET"]),
    Route("/v1/conversations/{conversation_id}/items/{item_id}", delete_item, methods=["DELETE"]),
]
