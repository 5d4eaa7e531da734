"""The floor of the agent-loop benchmark: the same journey by the leanest Python server at hand.

``bench/agent_loop.py`` charges Pilothouse for its own time per run: everything but the
upstream's and the tool service's answers. Part of that time is not Pilothouse's doing: the
HTTP hops themselves (one inbound request, two model calls, two tool calls), the interpreter
waking up after each wait, loopback transit. This server shows how much: it runs the same
journey with nothing but the hops. It takes ``POST /v1/responses {"input": ...}``, asks the
model with the two tools' function definitions, calls the tools the model asked for
concurrently (HTTP GET, as Pilothouse's bundle binds them), asks the model again with their
outputs, and returns the model's last answer. No validation, journal, policy, limits,
pricing, storage, redaction, retries or metrics.

It is built from the same parts as Pilothouse's request path where there is a choice:
uvloop, orjson, and ``pilothouse.runtime.http.HttpClient`` for outbound calls; inbound, an
asyncio protocol over ``httptools`` (the parser under uvicorn) instead of a framework. The
tool definitions are read from ``bench/agent_bundle/tools``. Each outbound request carries
the inbound ``traceparent``, so the harness accounts for this server's runs as for
Pilothouse's.

Usage: ``python bench/agent_floor.py --port 9400 --upstream http://127.0.0.1:9100
--tools http://127.0.0.1:8090``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httptools
import orjson
import uvloop
from yarl import URL

from pilothouse.runtime.http import HttpClient

TOOLS_DIR = Path(__file__).parent / "agent_bundle" / "tools"
MODEL = "gpt-4o-mini"
INSTRUCTIONS = (
    "You are the incident desk. Check the ticket with get_ticket_status, search the "
    "knowledge base with search_kb, then summarise the next action in two sentences."
)
MAX_STEPS = 4


def function_tools() -> list[dict[str, Any]]:
    """The bench bundle's tool contracts as Responses API function tools."""
    tools = []
    for path in sorted(TOOLS_DIR.glob("*.json")):
        contract = json.loads(path.read_text())
        tools.append(
            {
                "type": "function",
                "name": contract["name"],
                "description": contract["description"],
                "parameters": contract["input_schema"],
                "strict": False,
            }
        )
    return tools


class Journey:
    """The agent loop: model, tools, model; outbound calls over one keep-alive client."""

    def __init__(self, client: HttpClient, upstream: str, tools: str) -> None:
        self.client = client
        self.model_url = URL(upstream.rstrip("/") + "/v1/responses")
        self.tools_url = tools.rstrip("/")
        self.tools = function_tools()

    async def run(self, question: str, traceparent: str) -> dict[str, Any]:
        """Ask, run the requested tools, ask again, until the model answers in text."""
        headers = {
            "content-type": "application/json",
            "authorization": "Bearer x",
            "traceparent": traceparent,
        }
        items: list[dict[str, Any]] = [{"role": "user", "content": question}]
        for step in range(1, MAX_STEPS + 1):
            request = {
                "model": MODEL,
                "instructions": INSTRUCTIONS,
                "input": items,
                "tools": self.tools,
            }
            resp = await self.client.request(
                "POST", self.model_url, headers=headers, body=orjson.dumps(request)
            )
            answer: dict[str, Any] = orjson.loads(resp.body)
            calls = [item for item in answer["output"] if item.get("type") == "function_call"]
            if not calls:
                answer["floor"] = {"steps": step}
                return answer
            outputs = await asyncio.gather(*(self.tool(call, traceparent) for call in calls))
            items += answer["output"]
            items += [
                {"type": "function_call_output", "call_id": call["call_id"], "output": output}
                for call, output in zip(calls, outputs, strict=True)
            ]
        raise RuntimeError(f"no answer in {MAX_STEPS} steps")

    async def tool(self, call: dict[str, Any], traceparent: str) -> str:
        """One tool call: a GET to the tool service; its JSON text."""
        arguments = orjson.loads(call["arguments"])
        if call["name"] == "get_ticket_status":
            url = f"{self.tools_url}/tickets/{quote(arguments['ticket_id'], safe='')}"
        else:
            url = f"{self.tools_url}/kb/search?{urlencode(arguments)}"
        resp = await self.client.request("GET", URL(url), headers={"traceparent": traceparent})
        if resp.status != 200:
            raise RuntimeError(f"tool {call['name']} answered {resp.status}")
        return resp.body.decode()


class Connection(asyncio.Protocol):
    """One inbound keep-alive connection: parse requests, answer each with the journey."""

    def __init__(self, journey: Journey) -> None:
        self.journey = journey
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.headers: dict[bytes, bytes] = {}
        self.body: list[bytes] = []

    def connection_made(self, transport: Any) -> None:
        self.transport = transport  # uvloop's TCPTransport: not an asyncio.Transport subclass

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.write(400, b'{"error": "bad request"}')
            if self.transport is not None:
                self.transport.close()

    def on_message_begin(self) -> None:
        self.headers, self.body = {}, []

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.lower()] = value

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        asyncio.get_running_loop().create_task(self.answer())

    async def answer(self) -> None:
        try:
            request = orjson.loads(b"".join(self.body))
            traceparent = self.headers.get(b"traceparent", b"").decode()
            answer = await self.journey.run(request["input"], traceparent)
        except Exception as exc:  # a benchmark server: report, never hang the client
            self.write(500, orjson.dumps({"error": repr(exc)}))
            return
        self.write(200, orjson.dumps(answer))

    def write(self, status: int, body: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        head = (
            f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
        )
        self.transport.write(head.encode() + body)


async def serve(args: argparse.Namespace) -> None:
    """Listen until cancelled (SIGTERM or Ctrl-C)."""
    async with HttpClient(limit_per_origin=1000, timeout_s=60.0, idle_timeout_s=3600.0) as client:
        journey = Journey(client, args.upstream, args.tools)
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: Connection(journey), args.host, args.port)
        async with server:
            await server.serve_forever()


def main() -> None:
    """Parse the arguments and serve."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="fake upstream root URL")
    parser.add_argument("--tools", required=True, help="tool service root URL")
    args = parser.parse_args()
    uvloop.run(serve(args))


if __name__ == "__main__":
    main()
