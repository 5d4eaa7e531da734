"""The ``mcp`` adapter: a tool on a Model Context Protocol server (``mcp`` SDK 2.x).

A binding (:class:`~pilothouse.control.tool_contract.McpBinding`) reaches a server over
stdio (``command``: the server runs as a subprocess, with ``env`` added to a minimal
inherited environment; a command of ``python`` means this interpreter) or streamable HTTP
(``url``, with ``headers``). Values of ``env`` and ``headers`` are secret references
(``env:NAME``, ``file:PATH`` or literals), resolved when the adapter is built.

:class:`McpConnection` keeps one session open per server for any number of calls: it is
started on first use, on a background task that owns the SDK's ``Client`` context (the
SDK's anyio task groups must be entered and left by the same task), and
:meth:`McpConnection.aclose` ends it — closing the session, and for stdio terminating the
subprocess. Several contracts bound to the same server share one connection (see
:mod:`~pilothouse.runtime.tools.factory`). After a connection failure the session is
dropped, so the next attempt reconnects.

:class:`McpAdapter` calls one tool (``binding.tool``, else the contract name) with the
arguments and the request ``_meta`` ``{"idempotency_key", "run_id", "traceparent"}`` —
MCP's place for request metadata, readable by a server tool through its request context.
What comes back:

* ``isError`` results → non-retryable ``tool_error`` with the result's text;
* structured content → the output; else the text content, parsed when it is JSON and
  returned as a string when it is not; non-text content → its blocks as JSON data;
* connection failures (the subprocess gone, the HTTP server unreachable, the session
  closed) → retryable ``connection_error``; the SDK's request timeout → ``timeout``;
* other protocol errors (unknown method, invalid parameters) → non-retryable ``tool_error``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp_types
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from pydantic import ValidationError

from pilothouse.control.secrets import resolve_secret
from pilothouse.control.tool_contract import McpBinding
from pilothouse.runtime.tools.base import ToolCall, ToolFailure

logger = logging.getLogger(__name__)

_TRANSPORT_SLACK_S = 1.0
_PYTHON = frozenset({"python", "python3"})
_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    anyio.ClosedResourceError,
    anyio.BrokenResourceError,
    anyio.EndOfStream,
    httpx2.TransportError,
)


class McpConnection:
    """One MCP server session, opened lazily and kept open. See the module docstring.

    Raises:
        ValueError: The binding names neither or both of ``command`` and ``url``.
        InvalidRequest: A secret reference in ``env`` or ``headers`` cannot be resolved.
    """

    def __init__(self, binding: McpBinding, *, cwd: Path | None = None) -> None:
        if (binding.command is None) == (binding.url is None):
            raise ValueError("an mcp binding needs exactly one of 'command' and 'url'")
        if binding.command is not None and not binding.command:
            raise ValueError("an mcp binding's 'command' must not be empty")
        self._command = list(binding.command or [])
        self._url = binding.url
        self._env = {name: resolve_secret(value) for name, value in binding.env.items()}
        self._headers = {name: resolve_secret(value) for name, value in binding.headers.items()}
        self._cwd = cwd
        self._lock = asyncio.Lock()
        self._ready: asyncio.Future[Client] | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None

    async def client(self) -> Client:
        """The open session's client, connecting first when there is none.

        Connecting (for stdio: starting a subprocess) can take longer than one attempt's
        timeout, so it is shielded: an attempt cancelled while waiting leaves the
        connection to finish, and the next attempt picks it up instead of starting over.

        Raises:
            ToolFailure: The server cannot be reached (retryable ``connection_error``).
        """
        async with self._lock:
            if self._task is None or self._task.done():
                await self._close_session()
                self._start_session()
            ready = self._ready
        assert ready is not None
        try:
            return await asyncio.shield(ready)
        except Exception as exc:
            await self._drop(ready)
            raise ToolFailure(
                f"Cannot connect to the MCP server ({type(exc).__name__}: {exc}).",
                retryable=True,
                code="connection_error",
            ) from None

    async def reset(self, broken: Client) -> None:
        """Drop the session of ``broken`` after a connection failure (if still current)."""
        async with self._lock:
            if _connected_to(self._ready, broken):
                await self._close_session()

    async def aclose(self) -> None:
        """End the session (and the server subprocess, for stdio). Safe to call twice."""
        async with self._lock:
            await self._close_session()

    async def _drop(self, ready: asyncio.Future[Client]) -> None:
        async with self._lock:
            if self._ready is ready:
                await self._close_session()

    def _start_session(self) -> None:
        self._ready = asyncio.get_running_loop().create_future()
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._serve(self._ready, self._stop), name="mcp-session")

    async def _close_session(self) -> None:
        ready, task, stop = self._ready, self._task, self._stop
        self._ready, self._task, self._stop = None, None, None
        if task is None or stop is None:
            return
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if ready is not None and ready.done() and not ready.cancelled():
            ready.exception()  # retrieved, so a failed connect is not reported as lost

    async def _serve(self, ready: asyncio.Future[Client], stop: asyncio.Event) -> None:
        """Own the SDK client's context for the session's lifetime (one task in and out)."""
        try:
            async with AsyncExitStack() as stack:
                client = Client(self._transport(stack), cache=None)
                await stack.enter_async_context(client)
                ready.set_result(client)
                await stop.wait()
        except BaseException as exc:  # the session's end, however it came: never lost
            if not ready.done():
                failure = exc if isinstance(exc, Exception) else ConnectionError("cancelled")
                ready.set_exception(failure)
            elif isinstance(exc, Exception):
                logger.warning(
                    "MCP session ended with an error", extra={"error": type(exc).__name__}
                )
            if not isinstance(exc, Exception):
                raise

    def _transport(self, stack: AsyncExitStack) -> Any:
        if self._url is not None:
            http_client = create_mcp_http_client(headers=self._headers)
            stack.push_async_callback(http_client.aclose)
            return streamable_http_client(self._url, http_client=http_client)
        # "python" means this interpreter, so a server from this environment's packages
        # runs with them, whatever ``python`` is first on PATH.
        executable = sys.executable if self._command[0] in _PYTHON else self._command[0]
        return StdioServerParameters(
            command=executable, args=self._command[1:], env=self._env or None, cwd=self._cwd
        )


class McpAdapter:
    """Calls one tool over a (possibly shared) :class:`McpConnection`."""

    def __init__(self, connection: McpConnection, tool: str) -> None:
        self._connection = connection
        self._tool = tool

    async def invoke(self, call: ToolCall, timeout_s: float) -> Any:
        """Call the tool once; its structured or JSON output."""
        client = await self._connection.client()
        meta: dict[str, Any] = {"idempotency_key": call.idempotency_key, "run_id": call.run_id}
        if "traceparent" in call.headers:
            meta["traceparent"] = call.headers["traceparent"]
        try:
            result = await client.call_tool(
                self._tool,
                call.arguments,
                read_timeout_seconds=timeout_s + _TRANSPORT_SLACK_S,
                meta=meta,  # type: ignore[arg-type]  # an open map (TypedDict extra_items)
            )
        except MCPError as exc:
            raise await self._protocol_failure(client, exc) from None
        except ValidationError as exc:
            raise ToolFailure(
                f"The MCP server's answer is malformed: {exc.error_count()} error(s).",
                retryable=False,
                code="invalid_output",
            ) from None
        except Exception as exc:
            if not _is_connection_error(exc):
                raise
            await self._connection.reset(client)
            raise ToolFailure(
                f"The connection to the MCP server failed ({type(exc).__name__}).",
                retryable=True,
                code="connection_error",
            ) from None
        return _output(result)

    async def _protocol_failure(self, client: Client, exc: MCPError) -> ToolFailure:
        if exc.code == mcp_types.CONNECTION_CLOSED:
            await self._connection.reset(client)
            return ToolFailure(
                f"The MCP server closed the connection: {exc.message}",
                retryable=True,
                code="connection_error",
            )
        if exc.code == mcp_types.REQUEST_TIMEOUT:
            return ToolFailure(
                f"The MCP server did not answer in time: {exc.message}",
                retryable=True,
                code="timeout",
            )
        return ToolFailure(f"MCP error {exc.code}: {exc.message}", retryable=False)

    async def aclose(self) -> None:
        """Close the connection. It may be shared: closing twice is harmless, and another
        tool on it that is called afterwards reconnects."""
        await self._connection.aclose()


def _output(result: mcp_types.CallToolResult) -> Any:
    texts = [block.text for block in result.content if isinstance(block, mcp_types.TextContent)]
    if result.is_error:
        raise ToolFailure("\n".join(texts) or "The MCP tool reported an error.", retryable=False)
    if result.structured_content is not None:
        return result.structured_content
    if not texts:
        return [block.model_dump(mode="json", by_alias=True) for block in result.content]
    text = "\n".join(texts)
    try:
        return json.loads(text)
    except ValueError:
        return text


def _connected_to(ready: asyncio.Future[Client] | None, client: Client) -> bool:
    """Whether ``ready`` holds a session that connected, and it is ``client``'s."""
    if ready is None or not ready.done() or ready.cancelled() or ready.exception():
        return False
    return ready.result() is client


def _is_connection_error(exc: BaseException) -> bool:
    """Whether ``exc`` (or every exception in a group of them) is a transport failure."""
    if isinstance(exc, BaseExceptionGroup):
        return all(_is_connection_error(inner) for inner in exc.exceptions)
    return isinstance(exc, _CONNECTION_ERRORS)
