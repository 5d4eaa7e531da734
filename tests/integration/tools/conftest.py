"""Fixtures for the tool gateway's integration tests: a real faulty HTTP tool server on
loopback, and small builders for contracts and calls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from pilothouse.control.tool_contract import HttpBinding, ToolContract
from pilothouse.runtime.tools.base import ToolCall
from pilothouse.testing.tool_server import FaultyToolServer

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
async def tool_server() -> AsyncIterator[FaultyToolServer]:
    """A fresh tool server for one test."""
    server = await FaultyToolServer().start()
    try:
        yield server
    finally:
        await server.stop()


def http_contract(
    name: str,
    url: str,
    method: str = "POST",
    *,
    binding: dict[str, Any] | None = None,
    **fields: Any,
) -> ToolContract:
    """A contract bound to an HTTP endpoint."""
    return ToolContract(
        name=name,
        adapter=HttpBinding(type="http", method=method, url=url, **(binding or {})),
        **fields,
    )


def make_call(
    name: str, arguments: dict[str, Any], key: str = "run_1:1:0", **extra: Any
) -> ToolCall:
    """A call as the executor would make it."""
    fields: dict[str, Any] = {
        "call_id": f"call_{key}",
        "idempotency_key": key,
        "run_id": "run_1",
        "headers": {"traceparent": TRACEPARENT, "X-Pilothouse-Run-Id": "run_1"},
    }
    fields.update(extra)
    return ToolCall(name=name, arguments=arguments, **fields)
