"""The gateway's other protections against a real server: circuit breaker, output schema
and size cap, concurrency, the run's tool-time budget, and unexpected adapter errors."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from pilothouse.control.tool_contract import PythonBinding, ToolContract
from pilothouse.runtime.tools.base import RunToolBudget, ToolCall
from pilothouse.runtime.tools.breaker import BreakerPolicy
from pilothouse.runtime.tools.clock import ManualClock, SystemClock
from pilothouse.runtime.tools.factory import build_adapters
from pilothouse.runtime.tools.gateway import DefaultToolGateway
from pilothouse.runtime.tools.retry import RetryPolicy
from pilothouse.testing.tool_server import FaultyToolServer, ToolRequest

from .conftest import http_contract, make_call

GatewayFactory = Callable[..., DefaultToolGateway]
TICKET_OUTPUT = {
    "type": "object",
    "required": ["status"],
    "properties": {"status": {"enum": ["open", "closed"]}},
}


@pytest.fixture
async def make_gateway(tool_server: FaultyToolServer) -> AsyncIterator[GatewayFactory]:
    """Builds gateways over a few endpoints of the tool server; closes them after."""
    built: list[DefaultToolGateway] = []

    def make(clock: Any = None, **options: Any) -> DefaultToolGateway:
        url = tool_server.url
        contracts = {
            "echo": http_contract("echo", url + "/echo"),
            "ticket": http_contract(
                "ticket",
                url + "/echo/tickets/{ticket_id}",
                "GET",
                output_schema=TICKET_OUTPUT,
            ),
            "big": http_contract("big", url + "/big", "GET", max_output_bytes=1000),
            "notes": http_contract("notes", url + "/notes"),
            "overloaded": ToolContract(
                name="overloaded",
                adapter=PythonBinding(
                    type="python", target="tests.unit.runtime.tools.sample_tools:overloaded"
                ),
            ),
        }
        gateway = DefaultToolGateway(
            contracts,
            build_adapters(contracts, Path(".")),
            clock=clock or ManualClock(),
            retry_policy=RetryPolicy(base_s=0.01, cap_s=0.1),
            **options,
        )
        built.append(gateway)
        return gateway

    yield make
    for gateway in built:
        await gateway.aclose()


async def test_the_breaker_opens_then_half_opens_and_closes(
    tool_server: FaultyToolServer, make_gateway: GatewayFactory
) -> None:
    clock = ManualClock()
    gateway = make_gateway(clock, breaker_policy=BreakerPolicy(3, reset_timeout_s=30.0))
    budget = RunToolBudget(max_attempts=1)
    tool_server.fail("status", times=3, status=502)
    for _ in range(3):
        (result,) = await gateway.execute([make_call("notes", {"text": "x"})], budget)
        assert result.error is not None and result.error["code"] == "http_502"
    assert gateway.breaker("notes").state == "open"

    (refused,) = await gateway.execute([make_call("notes", {"text": "x"})], budget)
    assert refused.error is not None and refused.error["code"] == "tool_unavailable"
    assert refused.attempts == 0 and len(tool_server.requests) == 3  # nothing was sent
    (other,) = await gateway.execute([make_call("echo", {})], budget)
    assert other.ok  # one tool's circuit does not affect another's

    clock.advance(30.0)
    assert gateway.breaker("notes").state == "half_open"
    (probe,) = await gateway.execute([make_call("notes", {"text": "back"})], budget)
    assert probe.ok and gateway.breaker("notes").state == "closed"


async def test_a_failed_probe_reopens_the_circuit(
    tool_server: FaultyToolServer, make_gateway: GatewayFactory
) -> None:
    clock = ManualClock()
    gateway = make_gateway(clock, breaker_policy=BreakerPolicy(2, reset_timeout_s=10.0))
    tool_server.fail("reset", times=3)
    budget = RunToolBudget(max_attempts=1)
    for _ in range(2):
        await gateway.execute([make_call("notes", {"text": "x"})], budget)
    clock.advance(10.0)
    (probe,) = await gateway.execute([make_call("notes", {"text": "x"})], budget)
    assert probe.error is not None and probe.error["code"] == "connection_error"
    (refused,) = await gateway.execute([make_call("notes", {"text": "x"})], budget)
    assert refused.error is not None and refused.error["code"] == "tool_unavailable"
    assert len(tool_server.requests) == 3


async def test_client_errors_do_not_open_the_circuit(
    tool_server: FaultyToolServer, make_gateway: GatewayFactory
) -> None:
    gateway = make_gateway(breaker_policy=BreakerPolicy(2))
    tool_server.fail("status", times=5, status=400)
    for _ in range(5):
        (result,) = await gateway.execute([make_call("notes", {"text": "x"})], RunToolBudget())
        assert result.error is not None and result.error["code"] == "http_400"
    assert gateway.breaker("notes").state == "closed" and len(tool_server.requests) == 5


async def test_an_output_that_breaks_the_schema_fails_without_retry(
    tool_server: FaultyToolServer, make_gateway: GatewayFactory
) -> None:
    (result,) = await make_gateway().execute(
        [make_call("ticket", {"ticket_id": "T-1"})], RunToolBudget()
    )
    assert result.error is not None and result.error["code"] == "invalid_output"
    assert "$: " in result.error["message"] and "status" in result.error["message"]
    assert result.attempts == 1 and len(tool_server.requests) == 1


async def test_outputs_over_the_size_cap_are_refused(
    tool_server: FaultyToolServer, make_gateway: GatewayFactory
) -> None:
    gateway = make_gateway()
    small, large = await gateway.execute(
        [make_call("big", {"size": 900}, key="k1"), make_call("big", {"size": 5000}, key="k2")],
        RunToolBudget(),
    )
    assert small.ok
    assert large.error is not None and large.error["code"] == "output_too_large"
    assert large.attempts == 1
    (capped,) = await gateway.execute(
        [make_call("echo", {"text": "y" * 200})], RunToolBudget(max_output_bytes=100)
    )
    assert capped.error is not None and capped.error["code"] == "output_too_large"


def _most_in_flight(requests: list[ToolRequest]) -> int:
    """The largest number of requests the server was handling at one moment."""
    events = sorted(
        [(r.started_at, 1) for r in requests] + [(r.ended_at or 0.0, -1) for r in requests],
        key=lambda event: (event[0], event[1]),
    )
    most = current = 0
    for _, change in events:
        current += change
        most = max(most, current)
    return most


@pytest.mark.parametrize("max_parallel", [4, 2])
async def test_a_batch_runs_concurrently_up_to_the_cap_and_keeps_call_order(
    tool_server: FaultyToolServer, make_gateway: GatewayFactory, max_parallel: int
) -> None:
    tool_server.fail("slow", times=4, delay_s=0.2)
    calls = [make_call("echo", {"position": index}, key=f"k{index}") for index in range(4)]
    results = await make_gateway().execute(calls, RunToolBudget(max_parallel=max_parallel))
    assert [r.output["body"]["position"] for r in results] == [0, 1, 2, 3]
    assert [r.call for r in results] == calls
    assert _most_in_flight(tool_server.requests) == max_parallel


async def test_no_call_starts_once_the_tool_time_budget_is_spent(
    tool_server: FaultyToolServer, make_gateway: GatewayFactory
) -> None:
    budget = RunToolBudget(time_budget_s=5.0, spent_s=5.0)
    results = await make_gateway().execute(
        [make_call("echo", {}, key="a"), make_call("notes", {"text": "x"}, key="b")], budget
    )
    assert [r.error["code"] if r.error else None for r in results] == [
        "tool_time_budget_exhausted"
    ] * 2
    assert tool_server.requests == [] and all(r.attempts == 0 for r in results)


async def test_an_attempt_is_cut_short_by_the_remaining_tool_time(
    tool_server: FaultyToolServer, make_gateway: GatewayFactory
) -> None:
    tool_server.fail("timeout", times=5)
    budget = RunToolBudget(timeout_s=10.0, time_budget_s=0.3)
    gateway = make_gateway(SystemClock())
    (result,) = await gateway.execute([make_call("notes", {"text": "x"})], budget)
    assert result.error is not None and result.error["code"] == "tool_time_budget_exhausted"
    assert result.attempts == 1 and len(tool_server.requests) == 1
    assert 0.3 <= budget.spent_s < 2.0


async def test_a_python_tool_can_ask_for_a_retry(make_gateway: GatewayFactory) -> None:
    clock = ManualClock()
    (result,) = await make_gateway(clock).execute(
        [make_call("overloaded", {})], RunToolBudget(max_attempts=3)
    )
    assert result.error is not None and result.error["code"] == "busy"
    assert result.attempts == 3 and all(wait >= 0.5 for wait in clock.sleeps)


class _BuggyAdapter:
    async def invoke(self, call: ToolCall, timeout_s: float) -> Any:
        raise RuntimeError(f"cannot handle {call.arguments['password']}")

    async def aclose(self) -> None:
        return None


async def test_unexpected_adapter_errors_become_results_and_logs_hold_no_arguments(
    caplog: pytest.LogCaptureFixture,
) -> None:
    contract = http_contract("buggy", "http://127.0.0.1:9/")
    gateway = DefaultToolGateway(
        {"buggy": contract}, {"buggy": _BuggyAdapter()}, clock=ManualClock()
    )
    caplog.set_level(logging.DEBUG)
    (result,) = await gateway.execute(
        [make_call("buggy", {"password": "hunter2"})], RunToolBudget()
    )
    assert result.error == {
        "code": "tool_error",
        "message": "The tool failed unexpectedly (RuntimeError).",
    }
    assert result.attempts == 1
    assert caplog.records and "hunter2" not in caplog.text
    assert all("hunter2" not in str(vars(record)) for record in caplog.records)
    await gateway.aclose()
