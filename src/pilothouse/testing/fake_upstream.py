"""A fake model upstream: a real HTTP server on loopback speaking the Responses API.

It answers ``POST …/responses`` (JSON and SSE, under any prefix, so OpenAI, Azure v1,
Azure dated and Foundry project paths all work), ``POST …/responses/input_tokens`` and
``POST …/chat/completions``. Its answers come from the offline scripted model (so tool
calls and chained turns behave), or from a fixed canned body for benchmarks.

Tests inspect what reached it (:attr:`FakeUpstream.requests`: path, query, headers,
body) and steer it: :meth:`FakeUpstream.fail` queues faults (a status, a body,
``retry-after``), ``latency_s`` delays every answer, ``usage`` overrides the reported
usage. It is built on httptools rather than a framework so that it is never the
bottleneck of a benchmark (one core serves tens of thousands of requests a second).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httptools
import orjson

from pilothouse.errors import UpstreamError
from pilothouse.protocol.events import Sequencer, lifecycle
from pilothouse.runtime.providers.base import ModelRequest, ModelResult
from pilothouse.runtime.providers.scripted import ScriptedProvider
from pilothouse.testing.chat_bridge import chat_completion
from pilothouse.testing.threaded import ThreadedServer

_REASONS = {
    200: b"OK",
    400: b"Bad Request",
    401: b"Unauthorized",
    404: b"Not Found",
    429: b"Too Many Requests",
    500: b"Internal Server Error",
    502: b"Bad Gateway",
    503: b"Service Unavailable",
}


@dataclass(slots=True)
class RecordedRequest:
    """One request as the fake upstream received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass(slots=True)
class Fault:
    """An error answer to give instead of a normal one."""

    status: int
    message: str = "injected fault"
    code: str | None = None
    retry_after: float | None = None
    type: str | None = None


@dataclass
class FakeUpstream(ThreadedServer):
    """The fake upstream server. See the module docstring.

    Attributes:
        latency_s: Delay before every answer (and between streamed events' first byte).
        brain: The model that decides the answers (the scripted model by default).
        usage: Usage to report instead of the brain's.
        fixed: When true, answer every create with one canned body (benchmarks).
    """

    latency_s: float = 0.0
    brain: ScriptedProvider = field(default_factory=ScriptedProvider)
    usage: dict[str, Any] | None = None
    fixed: bool = False
    host: str = "127.0.0.1"
    port: int = 0
    requests: list[RecordedRequest] = field(default_factory=list)
    record: bool = True
    _faults: deque[Fault] = field(default_factory=deque)
    _server: asyncio.Server | None = None
    _connections: set[Any] = field(default_factory=set)
    _counter: int = 0

    @property
    def url(self) -> str:
        """The base URL (``http://host:port``); append ``/v1`` for OpenAI-style clients."""
        return f"http://{self.host}:{self.port}"

    def fail(self, status: int, times: int = 1, **details: Any) -> None:
        """Answer the next ``times`` model requests with an error."""
        for _ in range(times):
            self._faults.append(Fault(status, **details))

    def calls(self, suffix: str = "/responses") -> list[RecordedRequest]:
        """Recorded requests whose path ends with ``suffix``."""
        return [r for r in self.requests if r.path.endswith(suffix)]

    async def start(self) -> FakeUpstream:
        """Listen on ``host:port`` (a free port when 0)."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Stop listening and drop connections."""
        if self._server is not None:
            self._server.close()
            for transport in list(self._connections):
                transport.close()
            await self._server.wait_closed()

    # -- answering ---------------------------------------------------------------------

    async def answer(self, request: RecordedRequest, transport: Any) -> None:
        """Write the answer to ``request`` on ``transport``."""
        if self.record:
            self.requests.append(request)
        path = request.path
        # A fault belongs to the request that arrives next, decided on arrival: a slow request
        # still sleeping from an earlier test must not take a fault queued after it.
        fault = None
        if self._faults and not path.endswith("/input_tokens"):
            fault = self._faults.popleft()
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        if not path.endswith(("/responses", "/responses/input_tokens", "/chat/completions")):
            _write_json(
                transport,
                404,
                {
                    "error": {
                        "message": "no such path",
                        "type": "invalid_request_error",
                        "param": None,
                        "code": None,
                    }
                },
            )
            return
        if fault is not None:
            _write_fault(transport, fault)
            return
        body = request.body if isinstance(request.body, dict) else {}
        if path.endswith("/input_tokens"):
            count = await self.brain.count_input_tokens(_model_request(body))
            _write_json(transport, 200, {"object": "response.input_tokens", "input_tokens": count})
        elif path.endswith("/chat/completions"):
            await self._answer_chat(body, transport)
        else:
            await self._answer_responses(body, transport)

    async def _answer_responses(self, body: dict[str, Any], transport: Any) -> None:
        try:
            result = await self._think(body)
        except UpstreamError as exc:
            _write_fault(transport, Fault(exc.status, exc.message, exc.code, exc.retry_after))
            return
        resource = self._resource(body, result)
        if body.get("stream"):
            _write_sse(transport, _response_events(resource))
        else:
            _write_json(transport, 200, resource)

    async def _answer_chat(self, body: dict[str, Any], transport: Any) -> None:
        payload, chunks = chat_completion(body, self.usage)
        if body.get("stream"):
            _write_sse(transport, chunks, done=True)
        else:
            _write_json(transport, 200, payload)

    async def _think(self, body: dict[str, Any]) -> ModelResult:
        if self.fixed:
            return ModelResult(output=[_CANNED_MESSAGE], usage=_CANNED_USAGE)
        return await self.brain.complete(_model_request(body))

    def _resource(self, body: dict[str, Any], result: ModelResult) -> dict[str, Any]:
        self._counter += 1
        return {
            "id": f"resp_upstream{self._counter:08d}",
            "object": "response",
            "created_at": int(time.time()),
            "status": result.status,
            "model": body.get("model", ""),
            "output": result.output,
            "usage": self.usage or result.usage,
            "incomplete_details": result.incomplete_details,
            "error": result.error,
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": body.get("tools", []),
        }


_CANNED_MESSAGE = {
    "type": "message",
    "id": "msg_canned0000000000000000",
    "status": "completed",
    "role": "assistant",
    "content": [
        {
            "type": "output_text",
            "annotations": [],
            "text": "The ticket is open and assigned to the network team; next action: "
            "confirm the router firmware rollback with the on-call engineer.",
        }
    ],
}
_CANNED_USAGE = {
    "input_tokens": 42,
    "input_tokens_details": {"cached_tokens": 0},
    "output_tokens": 24,
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 66,
}


def _model_request(body: dict[str, Any]) -> ModelRequest:
    raw_input = body.get("input")
    items = [{"role": "user", "content": raw_input}] if isinstance(raw_input, str) else raw_input
    options: dict[str, Any] = {
        k: body[k]
        for k in ("tool_choice", "parallel_tool_calls", "text", "max_output_tokens")
        if k in body
    }
    return ModelRequest(
        model=str(body.get("model", "")),
        input=list(items or []),
        instructions=body.get("instructions"),
        tools=list(body.get("tools") or []),
        options=options,
    )


def _response_events(resource: dict[str, Any]) -> list[dict[str, Any]]:
    from pilothouse.protocol.events import item_events

    start = {**resource, "status": "in_progress", "output": [], "usage": None}
    events = [lifecycle("created", start), lifecycle("in_progress", start)]
    for index, item in enumerate(resource["output"]):
        events.extend(item_events(item, index))
    kind = {"completed": "completed", "incomplete": "incomplete"}.get(resource["status"], "failed")
    events.append(lifecycle(kind, resource))
    sequencer = Sequencer()
    return [sequencer.stamp(e) for e in events]


def _head(status: int, headers: list[tuple[str, str]]) -> bytes:
    lines = [b"HTTP/1.1 %d %s" % (status, _REASONS.get(status, b"Status"))]
    lines += [f"{k}: {v}".encode() for k, v in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _write_json(
    transport: Any, status: int, payload: Any, extra: list[tuple[str, str]] | None = None
) -> None:
    body = orjson.dumps(payload)
    headers = [("content-type", "application/json"), ("content-length", str(len(body)))]
    transport.write(_head(status, headers + (extra or [])) + body)


def _write_fault(transport: Any, fault: Fault) -> None:
    extra = [("retry-after", f"{fault.retry_after:g}")] if fault.retry_after is not None else []
    error_type = fault.type or (
        "rate_limit_error"
        if fault.status == 429
        else "invalid_request_error"
        if fault.status < 500
        else "server_error"
    )
    error = {"message": fault.message, "type": error_type, "param": None, "code": fault.code}
    _write_json(transport, fault.status, {"error": error}, extra)


def _write_sse(transport: Any, events: list[Any], done: bool = False) -> None:
    headers = [
        ("content-type", "text/event-stream"),
        ("transfer-encoding", "chunked"),
        ("cache-control", "no-cache"),
    ]
    chunks = [_head(200, headers)]
    for event in events:
        name = event.get("type") if isinstance(event, dict) else None
        frame = (
            (b"event: " + name.encode() + b"\n" if name else b"")
            + b"data: "
            + orjson.dumps(event)
            + b"\n\n"
        )
        chunks.append(b"%x\r\n%s\r\n" % (len(frame), frame))
    if done:
        frame = b"data: [DONE]\n\n"
        chunks.append(b"%x\r\n%s\r\n" % (len(frame), frame))
    chunks.append(b"0\r\n\r\n")
    transport.write(b"".join(chunks))


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection, parsed with httptools."""

    def __init__(self, server: FakeUpstream) -> None:
        self.server = server
        self.parser = httptools.HttpRequestParser(self)
        self.transport: Any = None
        self._url = b""
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._queue: asyncio.Queue[RecordedRequest | None] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.server._connections.add(transport)
        self._worker = asyncio.get_running_loop().create_task(self._serve())

    def connection_lost(self, exc: Exception | None) -> None:
        self.server._connections.discard(self.transport)
        self._queue.put_nowait(None)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._url, self._headers, self._body = b"", {}, []

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        parsed = httptools.parse_url(self._url)
        raw = b"".join(self._body)
        try:
            body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = raw.decode("utf-8", "replace")
        self._queue.put_nowait(
            RecordedRequest(
                method=self.parser.get_method().decode(),
                path=parsed.path.decode(),
                query=parse_qs(parsed.query.decode()) if parsed.query else {},
                headers=self._headers,
                body=body,
            )
        )

    async def _serve(self) -> None:
        while True:
            request = await self._queue.get()
            if request is None or self.transport.is_closing():
                return
            await self.server.answer(request, self.transport)
