"""Tool faults through a real agent run: the real gateway, HTTP tools on the faulty tool
server, bounded attempts, one idempotency key per call, no duplicate side effects, a
breaker that opens and recovers, and resume after a crash between intent and result."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
import openai
import orjson
import pytest

from pilothouse.control.bundle import load_bundle
from pilothouse.runtime.tools.base import RunToolBudget, ToolCall, ToolResult
from pilothouse.runtime.tools.breaker import BreakerPolicy
from pilothouse.runtime.tools.factory import build_gateway
from pilothouse.runtime.tools.retry import RetryPolicy
from pilothouse.testing import FakeUpstream, ServerThread
from pilothouse.testing.tool_server import FaultyToolServer
from pilothouse.wiring import build_services
from tests.conftest import TEST_API_KEY, auth_headers, server_settings

BUNDLE = Path(__file__).parents[2] / "fixtures" / "bundles" / "faulty"
NOTE = "Add a note to INC-1: router rebooted."


class SimulatedCrash(Exception):
    """Stands for the process dying after a tool applied its effect."""


@dataclass
class CrashingGateway:
    """The real gateway, which can be armed to 'crash' right after the tools ran (before
    the executor can journal their results)."""

    inner: Any
    armed: bool = False

    async def execute(self, calls: list[ToolCall], budget: RunToolBudget) -> list[ToolResult]:
        results: list[ToolResult] = await self.inner.execute(calls, budget)
        if self.armed:
            self.armed = False
            raise SimulatedCrash("the process died between tool intent and result")
        return results

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture(scope="session")
def tool_server() -> Iterator[FaultyToolServer]:
    server = FaultyToolServer().start_in_thread()
    yield server
    server.stop_thread()


@pytest.fixture(scope="session")
def fault_server(
    store_url: str,
    upstream_server: FakeUpstream,
    tool_server: FaultyToolServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ServerThread, CrashingGateway]]:
    os.environ["TOOL_SERVER_URL"] = tool_server.url
    bundle = load_bundle(BUNDLE)
    gateway = CrashingGateway(
        build_gateway(
            bundle.tools,
            bundle.root,
            retry_policy=RetryPolicy(base_s=0.01, cap_s=0.05),
            breaker_policy=BreakerPolicy(failure_threshold=8, reset_timeout_s=0.5),
        )
    )
    base = server_settings(store_url, upstream_server, tmp_path_factory.mktemp("faulty"))
    settings = base.model_copy(update={"bundle": BUNDLE})
    thread = ServerThread(settings, build_services(settings, gateway=gateway)).start()
    yield thread, gateway
    thread.stop()


@pytest.fixture
def faults(
    fault_server: tuple[ServerThread, CrashingGateway], tool_server: FaultyToolServer
) -> Iterator[openai.OpenAI]:
    tool_server.reset()
    with openai.OpenAI(
        base_url=fault_server[0].base_url, api_key=TEST_API_KEY, max_retries=0
    ) as sdk:
        yield sdk


def _note_calls(server: FaultyToolServer) -> list[Any]:
    return server.calls("/notes")


def _keys(server: FaultyToolServer) -> set[str]:
    return {r.headers.get("idempotency-key", "") for r in _note_calls(server)}


def _mcp(response: Any) -> Any:
    return next(item for item in response.output if item.type == "mcp_call")


def test_retryable_failures_retry_with_one_key(
    faults: openai.OpenAI, tool_server: FaultyToolServer
) -> None:
    tool_server.fail("status", times=2, status=503)
    response = faults.responses.create(model="agent:single", input=NOTE)
    call = _mcp(response)
    assert call.status == "completed" and call.error is None
    assert len(_note_calls(tool_server)) == 3
    assert len(_keys(tool_server)) == 1 and next(iter(_keys(tool_server))).startswith("ph-")
    assert tool_server.effects == 1


def test_fault_after_effect_applies_once(
    faults: openai.OpenAI, tool_server: FaultyToolServer
) -> None:
    tool_server.fail("status", status=503, after_effect=True)
    response = faults.responses.create(model="agent:single", input=NOTE)
    assert _mcp(response).status == "completed"
    assert len(_note_calls(tool_server)) == 2 and len(_keys(tool_server)) == 1
    assert tool_server.effects == 1 and len(tool_server.notes) == 1


def test_timeouts_are_bounded(faults: openai.OpenAI, tool_server: FaultyToolServer) -> None:
    tool_server.fail("timeout", times=3)
    response = faults.responses.create(model="agent:single", input=NOTE)
    call = _mcp(response)
    assert call.status == "failed" and call.error is not None and "timeout" in call.error
    assert len(_note_calls(tool_server)) == 3 and len(_keys(tool_server)) == 1
    assert response.status == "completed"  # the model was told, and answered


def test_reset_connections_are_retried(
    faults: openai.OpenAI, tool_server: FaultyToolServer
) -> None:
    tool_server.fail("reset")
    response = faults.responses.create(model="agent:single", input=NOTE)
    assert _mcp(response).status == "completed"
    assert len(_note_calls(tool_server)) == 2 and tool_server.effects == 1


def test_retry_after_is_honoured(faults: openai.OpenAI, tool_server: FaultyToolServer) -> None:
    tool_server.fail("status", status=429, retry_after=0.3)
    response = faults.responses.create(model="agent:single", input=NOTE)
    assert _mcp(response).status == "completed"
    first, second = _note_calls(tool_server)
    assert second.started_at - first.started_at >= 0.3


def test_client_errors_are_not_retried(
    faults: openai.OpenAI, tool_server: FaultyToolServer
) -> None:
    tool_server.fail("status", status=400, message="ticket is closed")
    response = faults.responses.create(model="agent:single", input=NOTE)
    call = _mcp(response)
    assert call.status == "failed" and "ticket is closed" in (call.error or "")
    assert len(_note_calls(tool_server)) == 1


def test_correlation_headers_reach_the_tool(
    faults: openai.OpenAI, tool_server: FaultyToolServer
) -> None:
    response = faults.responses.with_raw_response.create(
        model="agent:single", input=NOTE, extra_headers={"X-Request-ID": "req-tools-1"}
    )
    parsed = response.parse()
    (request,) = _note_calls(tool_server)
    assert request.headers["x-pilothouse-run-id"] == parsed.id
    trace_id = response.headers["traceparent"].split("-")[1]
    assert request.headers["traceparent"].split("-")[1] == trace_id


def test_breaker_opens_then_recovers(faults: openai.OpenAI, tool_server: FaultyToolServer) -> None:
    tool_server.fail("status", times=9, status=503)
    for _ in range(3):  # 3 calls x 3 attempts: 9 consecutive failures open the circuit
        faults.responses.create(model="agent:single", input=NOTE)
    assert len(_note_calls(tool_server)) == 8  # the 9th attempt met an open circuit
    tool_server.reset()  # the tool is healthy again
    blocked = faults.responses.create(model="agent:single", input=NOTE)
    assert "tool_unavailable" in (_mcp(blocked).error or "")
    assert _note_calls(tool_server) == []  # the open circuit never touched the tool
    time.sleep(0.6)  # past the reset timeout: one probe is let through
    recovered = faults.responses.create(model="agent:single", input=NOTE)
    assert _mcp(recovered).status == "completed"
    assert tool_server.effects == 1


def test_resume_after_crash_between_intent_and_result(
    fault_server: tuple[ServerThread, CrashingGateway],
    faults: openai.OpenAI,
    tool_server: FaultyToolServer,
) -> None:
    server, gateway = fault_server
    gateway.armed = True
    with pytest.raises(openai.InternalServerError):
        faults.responses.create(model="agent:single", input=NOTE)
    assert tool_server.effects == 1  # the effect happened before the "crash"
    journal = server.services.journal
    (run,) = server.run(journal.list_runs("default", 1))  # type: ignore[misc]
    kinds = [e.kind for e in server.run(journal.read(run.id))]  # type: ignore[attr-defined]
    assert kinds[-1] == "tool.intent"  # intent durable, result never written
    with httpx.Client(headers=auth_headers(), base_url=server.root_url) as http:
        resumed = http.post(f"/admin/v1/runs/{run.id}/resume").json()
    assert resumed["status"] == "completed"
    assert tool_server.effects == 1  # re-sent with the same key: the ledger answered
    assert len(_keys(tool_server)) == 1 and len(_note_calls(tool_server)) == 2
    stored = faults.responses.retrieve(run.id)
    assert stored.status == "completed" and _mcp(stored).status == "completed"
    with httpx.Client(headers=auth_headers(), base_url=server.root_url) as http:
        report = http.get(f"/admin/v1/runs/{run.id}/replay").json()
    assert report["faithful"], report["divergences"]
    assert report["status"] == "completed" and report["tool_calls"] == 1
    entries = server.run(journal.read(run.id))  # type: ignore[attr-defined]
    completed = [e for e in entries if e.kind == "tool.completed"]  # type: ignore[attr-defined]
    assert orjson.loads(completed[0].payload["item"]["output"])["note_id"] == "N-1"


def test_each_attempt_is_journaled(
    fault_server: tuple[ServerThread, CrashingGateway],
    faults: openai.OpenAI,
    tool_server: FaultyToolServer,
) -> None:
    tool_server.fail("status", times=2, status=503)
    response = faults.responses.create(model="agent:single", input=NOTE)
    with httpx.Client(headers=auth_headers(), base_url=fault_server[0].root_url) as http:
        entries = http.get(f"/admin/v1/runs/{response.id}/journal").json()["data"]
    attempts = [e["payload"] for e in entries if e["kind"] == "tool.attempt"]
    assert [(a["attempt"], a["outcome"], a["retryable"], a["retried"]) for a in attempts] == [
        (1, "error", True, True),
        (2, "error", True, True),
        (3, "ok", False, False),
    ]
    assert attempts[0]["error_type"] and attempts[0]["error_type"] == attempts[1]["error_type"]
    assert attempts[2]["error_type"] is None
    assert all(a["latency_ms"] >= 0 and a["started_at"] > 0 for a in attempts)
    assert [a["started_at"] for a in attempts] == sorted(a["started_at"] for a in attempts)
    finished = next(e["payload"] for e in entries if e["kind"] == "run.finished")
    (tool,) = finished["tools"].values()
    assert tool == {"calls": 1, "errors": 0, "attempts": 3}
