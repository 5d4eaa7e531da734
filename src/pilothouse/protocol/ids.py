"""Identifiers in the shapes OpenAI uses (``resp_…``, ``msg_…``, ``conv_…``).

Ids are random rather than sequential so that they leak nothing about volume and cannot
be guessed across tenants; ordering, where needed, lives in separate columns.
"""

from __future__ import annotations

import os

RESPONSE = "resp"
MESSAGE = "msg"
FUNCTION_CALL = "fc"
CALL = "call"
REASONING = "rs"
CONVERSATION = "conv"
ITEM = "item"
MCP_CALL = "mcp"
MCP_LIST_TOOLS = "mcpl"
MCP_APPROVAL_REQUEST = "mcpr"


def new_id(prefix: str) -> str:
    """A fresh id: ``prefix_`` followed by 48 hex characters (192 random bits)."""
    return f"{prefix}_{os.urandom(24).hex()}"


def item_prefix(item_type: str) -> str:
    """The id prefix OpenAI uses for an item of this type."""
    return {
        "message": MESSAGE,
        "function_call": FUNCTION_CALL,
        "function_call_output": "fco",
        "reasoning": REASONING,
        "mcp_call": MCP_CALL,
        "mcp_list_tools": MCP_LIST_TOOLS,
        "mcp_approval_request": MCP_APPROVAL_REQUEST,
        "mcp_approval_response": "mcpa",
    }.get(item_type, ITEM)
