"""The OpenAI Agents SDK side of the agent-loop benchmark (issue 3).

Runs inside its own virtualenv (``bench/.venvs/agents-sdk``, made by ``bench/agent_loop.py``),
never in the project's: the SDK is a peer we compare against, not a dependency.

The journey is the same as Pilothouse's: one ``Runner.run`` asks a question; the model (the
harness's fake upstream, Responses API) answers the first call with two function calls, the
SDK runs both ``@function_tool`` coroutines concurrently (each one HTTP GET to the harness's
tool service, the same endpoints Pilothouse's bundle calls), and the second model call answers
with text. Tracing is disabled, as in the reference measurements.

So that the harness can subtract the time the upstream and the tool service actually spent
on each run, every request of a run carries a W3C ``traceparent`` whose trace id is the
run's key: on model calls through ``ModelSettings.extra_headers`` of the run's
``RunConfig``, on tool calls from the run context. The harness records how long it spent
answering each request under that key.

It prints one JSON object on stdout: the timed runs (key, start, end in
``time.perf_counter`` seconds), the wall time, and the process's CPU time over the timed
runs. The tool functions return the service's JSON text unchanged (the least work an SDK
tool can do), so the SDK is measured on its leanest path.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
from agents import (
    Agent,
    ModelSettings,
    OpenAIResponsesModel,
    RunConfig,
    RunContextWrapper,
    Runner,
    function_tool,
    set_tracing_disabled,
)
from openai import AsyncOpenAI

QUESTION = (
    "What is the status of INC-24531 and what should we do about checkout latency? "
    "Check the ticket and search the knowledge base."
)
INSTRUCTIONS = (
    "You are the incident desk. Check the ticket with get_ticket_status, search the "
    "knowledge base with search_kb, then summarise the next action in two sentences."
)


@dataclass
class RunContext:
    """Per-run context handed to the tools: the HTTP session and the run's traceparent."""

    session: aiohttp.ClientSession
    tools_url: str
    traceparent: str


async def _get(ctx: RunContext, path: str, params: dict[str, str] | None = None) -> str:
    """One GET to the tool service; the JSON text of a 2xx answer, an error otherwise."""
    headers = {"traceparent": ctx.traceparent}
    async with ctx.session.get(ctx.tools_url + path, params=params, headers=headers) as resp:
        resp.raise_for_status()
        return await resp.text()


@function_tool
async def get_ticket_status(wrapper: RunContextWrapper[RunContext], ticket_id: str) -> str:
    """The status, priority, service, summary and owner of an incident ticket.

    Args:
        ticket_id: The ticket id, e.g. INC-24531.
    """
    return await _get(wrapper.context, "/tickets/" + quote(ticket_id, safe=""))


@function_tool
async def search_kb(wrapper: RunContextWrapper[RunContext], query: str, limit: int) -> str:
    """Search the knowledge base; returns articles ranked by relevance.

    Args:
        query: What to search for.
        limit: How many articles at most (1-10).
    """
    return await _get(wrapper.context, "/kb/search", {"query": query, "limit": str(limit)})


def traceparent(key: str) -> str:
    """A W3C traceparent whose trace id is the run's key (32 hex digits)."""
    return f"00-{key}-{os.urandom(8).hex()}-01"


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    """Warm up, then time ``args.runs`` runs at ``args.concurrency``; the raw figures."""
    set_tracing_disabled(True)
    client = AsyncOpenAI(base_url=args.upstream + "/v1", api_key="x")
    agent = Agent[RunContext](
        name="bench-desk",
        instructions=INSTRUCTIONS,
        model=OpenAIResponsesModel(model="gpt-4o-mini", openai_client=client),
        tools=[get_ticket_status, search_kb],
    )
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(key: str) -> tuple[float, float]:
            parent = traceparent(key)
            config = RunConfig(
                model_settings=ModelSettings(extra_headers={"traceparent": parent}),
                tracing_disabled=True,
            )
            context = RunContext(session, args.tools, parent)
            start = time.perf_counter()
            result = await Runner.run(agent, QUESTION, context=context, run_config=config)
            end = time.perf_counter()
            if not str(result.final_output).startswith("Here is what I found"):
                raise RuntimeError(f"unexpected final output: {result.final_output!r:.200}")
            return start, end

        async def drive(keys: list[str], sink: list[dict[str, Any]] | None) -> None:
            pending = iter(keys)

            async def worker() -> None:
                for key in pending:
                    start, end = await one(key)
                    if sink is not None:
                        sink.append({"key": key, "start": start, "end": end})

            await asyncio.gather(*(worker() for _ in range(args.concurrency)))

        await drive([os.urandom(16).hex() for _ in range(args.warmup)], None)
        runs: list[dict[str, Any]] = []
        keys = [os.urandom(16).hex() for _ in range(args.runs)]
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await drive(keys, runs)
        cpu1, wall1 = time.process_time(), time.perf_counter()
    await client.close()
    return {"runs": runs, "wall_s": wall1 - wall0, "cpu_s": cpu1 - cpu0}


def main() -> None:
    """Parse the arguments, run the benchmark on the chosen event loop, print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="fake upstream root URL")
    parser.add_argument("--tools", required=True, help="tool service root URL")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    args = parser.parse_args()
    if args.loop == "uvloop":
        import uvloop

        result = uvloop.run(bench(args))
    else:
        result = asyncio.run(bench(args))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
