"""Input and output items: validation, normalisation and builders.

Items travel as plain dicts (the wire shape) rather than models: they are forwarded to
upstreams and stored as JSON, and a dict costs nothing to pass along. This module is the
one place that knows their required keys.
"""

from __future__ import annotations

import re
from typing import Any

from pilothouse.errors import InvalidRequest
from pilothouse.protocol.ids import CALL, item_prefix, new_id

ROLES = frozenset({"user", "assistant", "system", "developer"})
INPUT_PARTS = frozenset({"input_text", "input_image", "input_file", "input_audio"})
OUTPUT_PARTS = frozenset({"output_text", "refusal"})
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")

Item = dict[str, Any]


def validate_input_items(items: list[Any], root: str) -> None:
    """Check each item's required keys; raise ``InvalidRequest`` naming the bad one."""
    for index, item in enumerate(items):
        where = f"{root}[{index}]"
        if not isinstance(item, dict):
            raise InvalidRequest(f"Invalid '{where}': expected an object.", param=where)
        kind = item.get("type", "message")
        if kind == "message":
            _validate_message(item, where)
        elif kind == "function_call":
            _require(item, where, "call_id", "name", "arguments")
        elif kind in ("function_call_output", "custom_tool_call_output"):
            _require(item, where, "call_id")
            if "output" not in item:
                raise _missing(f"{where}.output")
        elif kind == "item_reference":
            _require(item, where, "id")
        elif kind == "mcp_approval_response":
            _require(item, where, "approval_request_id")
            if not isinstance(item.get("approve"), bool):
                raise _missing(f"{where}.approve")
        elif not isinstance(kind, str):
            raise InvalidRequest(f"Invalid '{where}.type': expected a string.", param=where)


def _validate_message(item: Item, where: str) -> None:
    role = item.get("role")
    if role is None:
        raise _missing(f"{where}.role")
    if role not in ROLES:
        raise InvalidRequest(
            f"Invalid '{where}.role': '{role}'. Expected one of user, assistant, system, "
            "developer.",
            param=f"{where}.role",
            code="invalid_value",
        )
    content = item.get("content")
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise InvalidRequest(
            f"Invalid '{where}.content': expected a string or a list of content parts.",
            param=f"{where}.content",
            code="invalid_type",
        )
    allowed = INPUT_PARTS | OUTPUT_PARTS
    for pindex, part in enumerate(content):
        ppath = f"{where}.content[{pindex}]"
        if not isinstance(part, dict) or part.get("type") not in allowed:
            raise InvalidRequest(
                f"Invalid '{ppath}': unknown content part type.", param=ppath, code="invalid_value"
            )
        if part["type"] in ("input_text", "output_text") and not isinstance(part.get("text"), str):
            raise _missing(f"{ppath}.text")


def _require(item: Item, where: str, *keys: str) -> None:
    for key in keys:
        if not isinstance(item.get(key), str):
            raise _missing(f"{where}.{key}")


def _missing(param: str) -> InvalidRequest:
    return InvalidRequest(
        f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter"
    )


def validate_tools(tools: list[dict[str, Any]]) -> None:
    """Check declared tools: function tools need a valid name and an object schema."""
    for index, tool in enumerate(tools):
        where = f"tools[{index}]"
        kind = tool.get("type")
        if not isinstance(kind, str):
            raise _missing(f"{where}.type")
        if kind != "function":
            continue
        name = tool.get("name")
        if not isinstance(name, str):
            raise _missing(f"{where}.name")
        if not TOOL_NAME.match(name):
            raise InvalidRequest(
                f"Invalid '{where}.name': must match ^[a-zA-Z0-9_-]{{1,64}}$.",
                param=f"{where}.name",
                code="invalid_value",
            )
        params = tool.get("parameters")
        if params is not None and not isinstance(params, dict):
            raise InvalidRequest(
                f"Invalid '{where}.parameters': expected a JSON Schema object.",
                param=f"{where}.parameters",
                code="invalid_type",
            )


def normalize_input(value: str | list[Item] | None) -> list[Item]:
    """The request's ``input`` as a list of complete items, each with an id.

    A string becomes one user message. Messages get ``type``, ``status`` and list
    content, so that ``input_items`` and conversations return the shapes OpenAI does.
    """
    if value is None:
        return []
    if isinstance(value, str):
        return [user_message(value)]
    return [normalize_item(item) for item in value]


def normalize_item(item: Item) -> Item:
    """One input item in its stored shape (a copy; the argument is not changed)."""
    item = dict(item)
    kind = item.setdefault("type", "message")
    if kind == "message":
        content = item.get("content")
        if isinstance(content, str):
            part = "output_text" if item.get("role") == "assistant" else "input_text"
            item["content"] = [_text_part(part, content)]
        item.setdefault("status", "completed")
    elif kind in ("function_call", "function_call_output"):
        item.setdefault("status", "completed")
    if kind != "item_reference":
        item.setdefault("id", new_id(item_prefix(kind)))
    return item


def _text_part(kind: str, text: str) -> dict[str, Any]:
    if kind == "output_text":
        return {"type": "output_text", "text": text, "annotations": []}
    return {"type": kind, "text": text}


def user_message(text: str) -> Item:
    """A user message item carrying ``text``."""
    return {
        "type": "message",
        "id": new_id("msg"),
        "role": "user",
        "status": "completed",
        "content": [{"type": "input_text", "text": text}],
    }


def assistant_message(text: str, item_id: str | None = None) -> Item:
    """A completed assistant output message."""
    return {
        "type": "message",
        "id": item_id or new_id("msg"),
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


def function_call(name: str, arguments: str, call_id: str | None = None) -> Item:
    """A completed ``function_call`` output item."""
    return {
        "type": "function_call",
        "id": new_id("fc"),
        "call_id": call_id or new_id(CALL),
        "name": name,
        "arguments": arguments,
        "status": "completed",
    }


def message_text(item: Item) -> str:
    """All text of a message item's content, joined."""
    content = item.get("content")
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    return "".join(
        part.get("text", "") or part.get("refusal", "")
        for part in content
        if isinstance(part, dict)
    )


def normalize_tool(tool: dict[str, Any]) -> dict[str, Any]:
    """A declared tool as echoed on the response: function tools carry every key."""
    if tool.get("type") != "function":
        return tool
    echoed = dict(tool)
    echoed.setdefault("description", None)
    echoed.setdefault("parameters", None)
    echoed.setdefault("strict", True)
    return echoed
