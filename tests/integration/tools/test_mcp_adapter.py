"""The mcp adapter against the shipped MCP test server: a real stdio subprocess (and a
streamable HTTP server), one session shared by a server's tools, idempotency keys and
trace context in ``_meta``, error and failure mapping, reconnection, and shutdown."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from pilothouse.control.tool_contract import McpBinding, ToolContract
from pilothouse.runtime.tools.base import RunToolBudget, ToolResult
from pilothouse.runtime.tools.breaker import BreakerPolicy
from pilothouse.runtime.tools.clock import ManualClock
from pilothouse.runtime.tools.factory import build_gateway
from pilothouse.runtime.tools.gateway import DefaultToolGateway

from .conftest import TRACEPARENT, make_call

pytestmark = pytest.mark.asyncio(loop_scope="module")

SERVER = ["python", "-m", "pilothouse.testing.mcp_server"]


def contracts(command: list[str] | None = None, url: str | None = None) -> dict[str, ToolContract]:
    """The test server's tools as contracts, all bound to one server."""

    def bound(name: str, tool: str | None = None, **fields: Any) -> ToolContract:
        binding = McpBinding(
            type="mcp",
            command=command,
            url=url,
            tool=tool,
            headers={"X-Desk": "desk-key"} if url else {},
        )
        return ToolContract(name=name, adapter=binding, **fields)

    return {
        "add_note": bound("add_note", side_effect=True),
        "get_ticket": bound("get_ticket"),
        "broken_tool": bound("broken_tool", tool="flaky"),
        "slow": bound("slow"),
        "missing": bound("missing", tool="no_such_tool"),
    }


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def gateway() -> AsyncIterator[DefaultToolGateway]:
    """One gateway (one MCP subprocess) for the module's read-mostly tests."""
    built = build_gateway(
        contracts(SERVER),
        Path("."),
        clock=ManualClock(),
        breaker_policy=BreakerPolicy(failure_threshold=100),  # breakers are tested elsewhere
    )
    yield built
    await built.aclose()


async def run(
    gateway: DefaultToolGateway, name: str, arguments: dict[str, Any], **kw: Any
) -> ToolResult:
    budget = kw.pop("budget", RunToolBudget())
    (result,) = await gateway.execute([make_call(name, arguments, **kw)], budget)
    return result


async def test_the_idempotency_key_and_traceparent_reach_the_tool(
    gateway: DefaultToolGateway,
) -> None:
    first = await run(gateway, "add_note", {"ticket_id": "T-1", "text": "hello"}, key="mcp:1")
    assert first.ok, first.error
    assert first.output["idempotency_key"] == "mcp:1"
    assert first.output["traceparent"] == TRACEPARENT
    again = await run(gateway, "add_note", {"ticket_id": "T-1", "text": "hello"}, key="mcp:1")
    assert again.output["replayed"] is True
    assert again.output["effects"] == first.output["effects"]
    other = await run(gateway, "add_note", {"ticket_id": "T-1", "text": "bye"}, key="mcp:2")
    assert other.output["effects"] == first.output["effects"] + 1


async def test_tools_of_one_server_share_one_session(gateway: DefaultToolGateway) -> None:
    ticket = await run(gateway, "get_ticket", {"ticket_id": "T-7"})
    note = await run(gateway, "add_note", {"ticket_id": "T-7", "text": "x"}, key="mcp:3")
    assert ticket.output["status"] == "open"
    assert ticket.output["server_pid"] == note.output["server_pid"]


async def test_an_error_result_is_a_non_retried_tool_error(gateway: DefaultToolGateway) -> None:
    result = await run(gateway, "broken_tool", {"message": "desk is read-only"})
    assert result.error is not None and result.error["code"] == "tool_error"
    assert "desk is read-only" in result.error["message"] and result.attempts == 1
    unknown = await run(gateway, "missing", {})
    assert unknown.error is not None and unknown.error["code"] == "tool_error"
    assert unknown.attempts == 1


async def test_a_slow_tool_times_out_and_the_session_survives(gateway: DefaultToolGateway) -> None:
    budget = RunToolBudget(timeout_s=0.3, max_attempts=1)
    result = await run(gateway, "slow", {"seconds": 5}, budget=budget)
    assert result.error is not None and result.error["code"] == "timeout"
    assert (await run(gateway, "get_ticket", {"ticket_id": "T-2"})).ok


async def test_a_server_that_cannot_start_is_a_retryable_connection_error() -> None:
    broken = build_gateway(
        contracts(["/nonexistent/pilothouse-mcp-server"]), Path("."), clock=ManualClock()
    )
    try:
        result = await run(broken, "get_ticket", {"ticket_id": "T-1"})
    finally:
        await broken.aclose()
    assert result.error is not None and result.error["code"] == "connection_error"
    assert result.attempts == 3


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_a_crashed_server_is_restarted_even_with_short_attempts_and_aclose_ends_it(
    gateway: DefaultToolGateway,
) -> None:
    first = await run(gateway, "get_ticket", {"ticket_id": "T-1"})
    pid = first.output["server_pid"]
    os.kill(pid, signal.SIGKILL)
    # Attempts much shorter than a server start: the reconnect carries on across them.
    budget = RunToolBudget(timeout_s=0.2, max_attempts=50)
    retried = await run(gateway, "get_ticket", {"ticket_id": "T-1"}, budget=budget)
    assert retried.ok, retried.error
    assert retried.attempts >= 2, retried.attempts
    restarted = retried.output["server_pid"]
    assert restarted != pid and _alive(restarted)
    await gateway.aclose()  # the fixture closes it again: closing is idempotent
    assert not _alive(restarted)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _wait_for_port(port: int, process: asyncio.subprocess.Process) -> None:
    for _ in range(200):
        if process.returncode is not None:
            raise RuntimeError("the MCP HTTP server exited")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise RuntimeError("the MCP HTTP server did not start")


async def test_streamable_http_reaches_the_same_tools() -> None:
    port = _free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pilothouse.testing.mcp_server",
        "--http",
        str(port),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    http_gateway = build_gateway(
        contracts(url=f"http://127.0.0.1:{port}/mcp"), Path("."), clock=ManualClock()
    )
    try:
        await _wait_for_port(port, process)
        result = await run(http_gateway, "add_note", {"ticket_id": "T-3", "text": "x"}, key="h:1")
        assert result.ok, result.error
        assert result.output["idempotency_key"] == "h:1"
        assert result.output["traceparent"] == TRACEPARENT
        failed = await run(http_gateway, "broken_tool", {"message": "nope"})
        assert failed.error is not None and failed.error["code"] == "tool_error"
    finally:
        await http_gateway.aclose()
        process.terminate()
        await process.wait()
