"""Identifiers in the shapes OpenAI uses (``resp_…``, ``msg_…``, ``conv_…``).

Ids cannot be guessed across tenants: after the prefix, 8 hex digits of the creation time
in seconds (as OpenAI's own ids begin) and 40 random hex digits (160 bits). They leak
nothing about volume; the time they show is the object's ``created_at``. The time prefix
keeps the keys of a table's index in creation order, so that a new run, response or
conversation lands at the right edge of the B-tree (SQLite's and PostgreSQL's) instead of
on a random page: measured here, ≈ 15% less SQLite work per agent run at 20,000 runs
stored, and an index that stays compact as it grows. Ordering, where needed, still lives
in separate columns: two ids made in the same second are in no particular order.
"""

from __future__ import annotations

import os
import time

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
    """A fresh id: ``prefix_`` followed by 48 hex characters, the creation second (8) and
    160 random bits (40); see the module docstring."""
    return f"{prefix}_{int(time.time()) & 0xFFFFFFFF:08x}{os.urandom(20).hex()}"


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
