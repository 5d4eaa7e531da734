"""History as a model sees it.

On the wire, a governed tool call is an ``mcp_call`` item (as OpenAI's remote MCP tools
are); to the model it is a ``function_call`` followed by its ``function_call_output``.
:func:`model_view` converts the first form into the second, so that a chained response
(``previous_response_id``) shows any model exactly what the agent's model saw before.
"""

from __future__ import annotations

import orjson

from pilothouse.runtime.providers.base import Item

# Items only the runtime and the client read: the tools are passed as tools, and an
# approval's outcome reaches the model as the ``mcp_call`` that follows it.
_NOT_FOR_MODELS = frozenset({"mcp_list_tools", "mcp_approval_request", "mcp_approval_response"})


def model_view(items: list[Item]) -> list[Item]:
    """History as the model sees it: ``mcp_call`` items become a function call and its
    output; ``mcp_list_tools`` and approval items are dropped."""
    view: list[Item] = []
    for item in items:
        kind = item.get("type")
        if kind in _NOT_FOR_MODELS:
            continue
        if kind == "mcp_call":
            view.append(
                {
                    "type": "function_call",
                    "call_id": item["id"],
                    "name": item["name"],
                    "arguments": item.get("arguments", "{}"),
                }
            )
            result = item.get("output")
            if result is None:
                result = orjson.dumps({"error": item.get("error")}).decode()
            view.append({"type": "function_call_output", "call_id": item["id"], "output": result})
            continue
        view.append(item)
    return view


# Keys of stored items that mean something only to us (or to a store the upstream does
# not share), removed before history is sent upstream.
_LOCAL_KEYS = ("id", "status")


def upstream_items(items: list[Item]) -> list[Item]:
    """History as an upstream without our store can read it.

    Our item ids are unknown upstream (which is asked not to store anything), so they are
    dropped; reasoning items are kept only when they carry ``encrypted_content``.
    """
    cleaned: list[Item] = []
    for item in items:
        if item.get("type") == "reasoning" and not item.get("encrypted_content"):
            continue
        if any(key in item for key in _LOCAL_KEYS):
            item = {k: v for k, v in item.items() if k not in _LOCAL_KEYS}
        cleaned.append(item)
    return cleaned
