"""A faulty HTTP tool server: real JSON endpoints on loopback, with injectable failures.

:class:`FaultyToolServer` is what the tool gateway's tests (and yours) call for real. Its
endpoints:

==============================  ====================================================
``POST /notes``                 add a note (a side effect) → ``{note_id, ticket_id,
                                text}``
``POST /tickets/{id}/notes``    the same, for the ticket the path names
``GET /tickets/{id}``           a ticket → ``{ticket_id, status, team, query}``
                                (``missing`` answers 404)
``* /echo``, ``* /echo/…``      what arrived → ``{method, path, query, body}``
``GET /big?size=N``             a JSON answer of about ``N`` bytes
``GET /text``                   a 200 answer that is not JSON
==============================  ====================================================

**Idempotency ledger.** Side effects are keyed by the ``Idempotency-Key`` header: a
repeated key returns the stored answer without a second effect. :attr:`effects` counts the
effects really applied; :attr:`requests` records every request (method, path, query,
headers, body, and server-side start and end times on ``time.monotonic``), so a test can
check the headers that arrived and whether calls overlapped.

**Faults.** :meth:`FaultyToolServer.fail` queues faults for the next requests:

* ``timeout`` — hold the request until the client gives up (or the server stops);
* ``reset`` — drop the connection without an answer;
* ``status`` — answer ``status`` (default 503) with ``{"error": {"message"}}`` and, when
  given, a ``retry-after`` header;
* ``slow`` — wait ``delay_s`` (default 0.2 s), then answer normally.

With ``after_effect=True`` the fault strikes after the side effect is applied and stored —
the case idempotency keys exist for: the client sees a failure, retries with the same key,
and the ledger answers without applying the effect again.

It runs on the caller's loop (:meth:`start`/:meth:`stop`) or on its own loop in a thread
(:meth:`start_in_thread`/:meth:`stop_thread`), like
:class:`~pilothouse.testing.fake_upstream.FakeUpstream`.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from aiohttp import web

from pilothouse.testing.threaded import ThreadedServer

FaultKind = Literal["timeout", "reset", "status", "slow"]


@dataclass(slots=True)
class ToolRequest:
    """One request as the server received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    started_at: float
    ended_at: float | None = None


_RECORD = web.RequestKey("record", ToolRequest)


@dataclass(slots=True)
class ToolFault:
    """A failure to inject instead of (or after) a normal answer."""

    kind: FaultKind
    status: int = 503
    retry_after: float | None = None
    message: str = "injected fault"
    delay_s: float = 0.2
    after_effect: bool = False
    path: str | None = None


@dataclass
class FaultyToolServer(ThreadedServer):
    """The tool server. See the module docstring."""

    host: str = "127.0.0.1"
    port: int = 0
    requests: list[ToolRequest] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    _ledger: dict[str, tuple[int, Any]] = field(default_factory=dict)
    _faults: deque[ToolFault] = field(default_factory=deque)
    _runner: web.AppRunner | None = None
    _stopping: asyncio.Event | None = None

    @property
    def url(self) -> str:
        """The base URL, ``http://host:port``."""
        return f"http://{self.host}:{self.port}"

    @property
    def effects(self) -> int:
        """Side effects really applied (replays of a known key excluded)."""
        return len(self.notes)

    def fail(self, kind: FaultKind, times: int = 1, **details: Any) -> None:
        """Inject ``kind`` into the next ``times`` requests (to ``path`` only, if given)."""
        for _ in range(times):
            self._faults.append(ToolFault(kind, **details))

    def reset(self) -> None:
        """Forget requests, notes, the ledger and pending faults."""
        self.requests.clear()
        self.notes.clear()
        self._ledger.clear()
        self._faults.clear()

    def calls(self, path: str) -> list[ToolRequest]:
        """Recorded requests to ``path``."""
        return [r for r in self.requests if r.path == path]

    async def start(self) -> FaultyToolServer:
        """Listen on ``host:port`` (a free port when 0)."""
        self._stopping = asyncio.Event()
        app = web.Application(middlewares=[self._record, self._inject])
        app.router.add_post("/notes", self._add_note)
        app.router.add_post("/tickets/{ticket_id}/notes", self._add_note)
        app.router.add_get("/tickets/{ticket_id}", self._ticket)
        app.router.add_route("*", "/echo", self._echo)
        app.router.add_route("*", "/echo/{tail:.*}", self._echo)
        app.router.add_get("/big", self._big)
        app.router.add_get("/text", self._text)
        self._runner = web.AppRunner(
            app, handler_cancellation=True, access_log=None, shutdown_timeout=0.5
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        """Release held requests, stop listening and close connections."""
        if self._stopping is not None:
            self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- middlewares -------------------------------------------------------------------

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = raw.decode("utf-8", "replace")
        record = ToolRequest(
            method=request.method,
            path=request.path,
            query={key: request.query.getall(key) for key in request.query},
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            started_at=time.monotonic(),
        )
        self.requests.append(record)
        request[_RECORD] = record
        try:
            response: web.StreamResponse = await handler(request)
            return response
        finally:
            record.ended_at = time.monotonic()

    @web.middleware
    async def _inject(self, request: web.Request, handler: Any) -> web.StreamResponse:
        fault = self._next_fault(request.path)
        if fault is None:
            response: web.StreamResponse = await handler(request)
            return response
        if fault.kind == "slow":
            await asyncio.sleep(fault.delay_s)
            response = await handler(request)
            return response
        if fault.after_effect:
            await handler(request)
        if fault.kind == "timeout":
            assert self._stopping is not None
            await self._stopping.wait()
            raise web.HTTPServiceUnavailable()
        if fault.kind == "reset":
            _reset_connection(request)
            raise web.HTTPServiceUnavailable()
        headers = {"retry-after": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
        return web.json_response(
            {"error": {"message": fault.message, "code": f"injected_{fault.status}"}},
            status=fault.status,
            headers=headers,
        )

    def _next_fault(self, path: str) -> ToolFault | None:
        for fault in self._faults:
            if fault.path is None or fault.path == path:
                self._faults.remove(fault)
                return fault
        return None

    # -- endpoints ---------------------------------------------------------------------

    async def _add_note(self, request: web.Request) -> web.Response:
        key = request.headers.get("Idempotency-Key")
        if key is not None and key in self._ledger:
            status, stored = self._ledger[key]
            return web.json_response(stored, status=status, headers={"Idempotent-Replay": "true"})
        body = request[_RECORD].body
        if not isinstance(body, dict) or not isinstance(body.get("text"), str):
            return web.json_response({"error": {"message": "'text' is required"}}, status=400)
        note = {
            "note_id": f"N-{len(self.notes) + 1}",
            "ticket_id": request.match_info.get("ticket_id", body.get("ticket_id")),
            "text": body["text"],
        }
        self.notes.append(note)
        if key is not None:
            self._ledger[key] = (201, note)
        return web.json_response(note, status=201)

    async def _ticket(self, request: web.Request) -> web.Response:
        ticket_id = request.match_info["ticket_id"]
        if ticket_id == "missing":
            return web.json_response({"error": {"message": "no such ticket"}}, status=404)
        return web.json_response(
            {
                "ticket_id": ticket_id,
                "status": "open",
                "team": "network",
                "query": {key: request.query.getall(key) for key in request.query},
            }
        )

    async def _echo(self, request: web.Request) -> web.Response:
        record = request[_RECORD]
        return web.json_response(
            {
                "method": record.method,
                "path": record.path,
                "query": record.query,
                "body": record.body,
            }
        )

    async def _big(self, request: web.Request) -> web.Response:
        size = int(request.query.get("size", "1024"))
        return web.json_response({"data": "x" * max(0, size - 11)})

    async def _text(self, request: web.Request) -> web.Response:
        return web.Response(text="plain words, not JSON", content_type="text/plain")


def _reset_connection(request: web.Request) -> None:
    """Abort the request's connection with a TCP reset (SO_LINGER 0), as a crash would."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
