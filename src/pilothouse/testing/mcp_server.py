"""A tiny MCP tool server for tests and examples, built on the ``mcp`` SDK's ``MCPServer``.

Run it over stdio (what the MCP adapter's ``command`` binding launches)::

    python -m pilothouse.testing.mcp_server

or over streamable HTTP on a loopback port (the endpoint is ``/mcp``)::

    python -m pilothouse.testing.mcp_server --http 8765

Its tools:

* ``add_note(ticket_id, text)`` — a side effect. It is applied once per idempotency key,
  which the gateway passes in the request's ``_meta`` (``idempotency_key``); a repeated key
  returns the stored result. The answer reports the key and ``traceparent`` it saw and how
  many real effects the server has applied, so a test can prove both arrive and that a
  retried call did not apply its effect twice.
* ``get_ticket(ticket_id)`` — a read, answering structured content.
* ``flaky(message)`` — always fails with an ``isError`` result carrying ``message``.
* ``slow(seconds)`` — sleeps, then answers; for timeouts.

``add_note`` and ``get_ticket`` answer ``server_pid``, the serving process, so a test can
tell whether two tools share one server and whether a server was restarted.

(The SDK's ``FastMCP`` class was renamed ``MCPServer`` in mcp 2.)
"""

from __future__ import annotations

import argparse
import asyncio
import os
from dataclasses import dataclass, field
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError


@dataclass
class Ledger:
    """Side effects applied, keyed by idempotency key (one process's memory)."""

    notes: list[dict[str, Any]] = field(default_factory=list)
    by_key: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, key: str | None, ticket_id: str, text: str) -> dict[str, Any]:
        """Apply the effect unless ``key`` was seen; return the (stored) result."""
        if key is not None and key in self.by_key:
            return {**self.by_key[key], "replayed": True}
        note = {"note_id": f"N-{len(self.notes) + 1}", "ticket_id": ticket_id, "text": text}
        self.notes.append(note)
        if key is not None:
            self.by_key[key] = note
        return {**note, "replayed": False}


def _meta(ctx: Context[Any, Any]) -> dict[str, Any]:
    meta = ctx.request_context.meta
    return dict(meta) if meta else {}


def build_server(ledger: Ledger | None = None) -> MCPServer:
    """The server with its tools registered; ``ledger`` holds the side effects."""
    server = MCPServer("pilothouse-test-tools", log_level="WARNING")
    effects = ledger if ledger is not None else Ledger()

    @server.tool()
    def add_note(ticket_id: str, text: str, ctx: Context[Any, Any]) -> dict[str, Any]:
        """Add a note to a ticket (a side effect, applied once per idempotency key)."""
        meta = _meta(ctx)
        result = effects.add(meta.get("idempotency_key"), ticket_id, text)
        return {
            **result,
            "effects": len(effects.notes),
            "idempotency_key": meta.get("idempotency_key"),
            "traceparent": meta.get("traceparent"),
            "server_pid": os.getpid(),
        }

    @server.tool()
    def get_ticket(ticket_id: str) -> dict[str, Any]:
        """Look a ticket up."""
        return {
            "ticket_id": ticket_id,
            "status": "open",
            "team": "network",
            "server_pid": os.getpid(),
        }

    @server.tool()
    def flaky(message: str = "the tool failed") -> str:
        """Always fail, with ``message`` as the error text."""
        raise ToolError(message)

    @server.tool()
    async def slow(seconds: float) -> dict[str, Any]:
        """Sleep for ``seconds``, then answer."""
        await asyncio.sleep(seconds)
        return {"slept": seconds}

    return server


def main(argv: list[str] | None = None) -> None:
    """Serve over stdio, or over streamable HTTP with ``--http PORT``."""
    parser = argparse.ArgumentParser(prog="python -m pilothouse.testing.mcp_server")
    parser.add_argument("--http", type=int, metavar="PORT", help="serve streamable HTTP")
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    server = build_server()
    if args.http is None:
        server.run("stdio")
    else:
        server.run("streamable-http", host=args.host, port=args.http)


if __name__ == "__main__":
    main()
