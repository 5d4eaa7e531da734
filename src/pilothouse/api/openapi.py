"""The OpenAPI 3.1 document of the HTTP API, built from the request models."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel

from pilothouse import __version__
from pilothouse.protocol.requests import (
    CreateConversation,
    CreateConversationItems,
    CreateResponse,
    InputTokensRequest,
    UpdateConversation,
)

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type", "param", "code"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
        }
    },
}


def _body(model: type[Any]) -> dict[str, Any]:
    name = model.__name__
    return {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
    }


def _op(summary: str, body: type[Any] | None = None, stream: bool = False) -> dict[str, Any]:
    content: dict[str, Any] = {"application/json": {"schema": {"type": "object"}}}
    if stream:
        content["text/event-stream"] = {"schema": {"type": "string"}}
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {
            "200": {"description": "OK", "content": content},
            "default": {
                "description": "Error",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            },
        },
    }
    if body is not None:
        op["requestBody"] = _body(body)
    return op


@cache
def openapi_document() -> dict[str, Any]:
    """The document (built once per process)."""
    models: list[type[BaseModel]] = [
        CreateResponse,
        InputTokensRequest,
        CreateConversation,
        UpdateConversation,
        CreateConversationItems,
    ]
    schemas: dict[str, Any] = {m.__name__: m.model_json_schema() for m in models}
    schemas["Error"] = _ERROR
    rid = "/v1/responses/{response_id}"
    cid = "/v1/conversations/{conversation_id}"
    return {
        "openapi": "3.1.0",
        "info": {"title": "Pilothouse", "version": __version__},
        "paths": {
            "/v1/responses": {"post": _op("Create a response", CreateResponse, stream=True)},
            "/v1/responses/input_tokens": {"post": _op("Count input tokens", InputTokensRequest)},
            rid: {
                "get": _op("Retrieve a response or replay its stream", stream=True),
                "delete": _op("Delete a response"),
            },
            rid + "/cancel": {"post": _op("Cancel a background response")},
            rid + "/input_items": {"get": _op("List input items")},
            "/v1/conversations": {"post": _op("Create a conversation", CreateConversation)},
            cid: {
                "get": _op("Retrieve a conversation"),
                "post": _op("Update a conversation", UpdateConversation),
                "delete": _op("Delete a conversation"),
            },
            cid + "/items": {
                "get": _op("List items"),
                "post": _op("Add items", CreateConversationItems),
            },
            cid + "/items/{item_id}": {
                "get": _op("Retrieve an item"),
                "delete": _op("Delete an item"),
            },
            "/v1/models": {"get": _op("List models")},
            "/healthz": {"get": _op("Liveness")},
            "/readyz": {"get": _op("Readiness")},
        },
        "components": {"schemas": schemas},
    }
