"""The gateway's retries against a real faulty server: bounded attempts, the same
idempotency key on every attempt, no duplicate side effect, retry-after honoured, and the
retry budget holding under many failing calls."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from pilothouse.control.agent import RetryBudget
from pilothouse.runtime.tools.base import RunToolBudget
from pilothouse.runtime.tools.breaker import BreakerPolicy
from pilothouse.runtime.tools.clock import ManualClock
from pilothouse.runtime.tools.factory import build_adapters
from pilothouse.runtime.tools.gateway import DefaultToolGateway
from pilothouse.runtime.tools.retry import RetryPolicy
from pilothouse.testing.tool_server import FaultyToolServer

from .conftest import TRACEPARENT, http_contract, make_call

NOTE_SCHEMA = {
    "type": "object",
    "properties": {"ticket_id": {"type": "string"}, "text": {"type": "string", "minLength": 1}},
    "required": ["text"],
    "additionalProperties": False,
}

GatewayFactory = Callable[..., DefaultToolGateway]


@pytest.fixture
async def make_gateway(tool_server: FaultyToolServer) -> AsyncIterator[GatewayFactory]:
    """Builds a gateway with ``add_note`` (POST /notes) and ``get_ticket``; closes it after."""
    built: list[DefaultToolGateway] = []

    def make(
        clock: ManualClock | None = None, note_fields: dict[str, Any] | None = None, **options: Any
    ) -> DefaultToolGateway:
        contracts = {
            "add_note": http_contract(
                "add_note",
                tool_server.url + "/notes",
                input_schema=NOTE_SCHEMA,
                side_effect=True,
                **(note_fields or {}),
            ),
            "get_ticket": http_contract(
                "get_ticket", tool_server.url + "/tickets/{ticket_id}", "GET", timeout_s=0.15
            ),
        }
        gateway = DefaultToolGateway(
            contracts,
            build_adapters(contracts, Path(".")),
            clock=clock or ManualClock(),
            retry_policy=RetryPolicy(base_s=0.05, cap_s=0.5),
            **options,
        )
        built.append(gateway)
        return gateway

    yield make
    for gateway in built:
        await gateway.aclose()


async def test_invalid_arguments_are_answered_without_a_request(
    tool_server: FaultyToolServer, make_gateway: GatewayFactory
) -> None:
    gateway = make_gateway()
    (result,) = await gateway.execute([make_call("add_note", {"text": ""})], RunToolBudget())
    assert result.error is not None and result.error["code"] == "invalid_arguments"
    assert "$.text" in result.error["message"]
    assert result.attempts == 0 and tool_server.requests == []


async def test_unknown_tools_are_answered_as_such(make_gateway: GatewayFactory) -> None:
    (result,) = await make_gateway().execute([make_call("nope", {})], RunToolBudget())
    assert result.error == {
        "code": "unknown_tool",
        "message": "There is no governed tool named 'nope'.",
    }


async def test_transient_failures_are_retried_with_one_idempotency_key(
    tool_server: FaultyToolServer, make_gateway: GatewayFactory
) -> None:
    tool_server.fail("status", status=503)
    tool_server.fail("reset")
    call = make_call(
        "add_note", {"ticket_id": "T-1", "text": "router rolled back"}, key="run_1:3:0"
    )
    (result,) = await make_gateway().execute([call], RunToolBudget())
    assert result.ok and result.output["text"] == "router rolled back"
    assert result.attempts == 3 and result.call is call and call.attempt == 1
    keys = {r.headers["idempotency-key"] for r in tool_server.requests}
    assert keys == {"run_1:3:0"} and len(tool_server.requests) == 3
    assert {r.headers["traceparent"] for r in tool_server.requests} == {TRACEPARENT}
    assert tool_server.effects == 1


@pytest.mark.parametrize("fault", ["status", "reset", "timeout"])
async def test_a_fault_after_the_effect_does_not_repeat_the_effect(
    tool_server: FaultyToolServer, make_gateway: GatewayFactory, fault: str
) -> None:
    tool_server.fail(fault, after_effect=True)  # type: ignore[arg-type]
    call = make_call("add_note", {"text": "escalate to on-call"}, key="run_1:4:0")
    budget = RunToolBudget(timeout_s=0.15)
    (result,) = await make_gateway().execute([call], budget)
    assert result.ok and result.attempts == 2
    assert result.output == {"note_id": "N-1", "ticket_id": None, "text": "escalate to on-call"}
    assert tool_server.effects == 1
    assert [r.headers["idempotency-key"] for r in tool_server.requests] == ["run_1:4:0"] * 2


@pytest.mark.parametrize(("fault", "code"), [("status", "http_503"), ("timeout", "timeout")])
async def test_retryable_failures_stop_at_exactly_max_attempts(
    tool_server: FaultyToolServer, make_gateway: GatewayFactory, fault: str, code: str
) -> None:
    tool_server.fail(fault, times=10)  # type: ignore[arg-type]
    budget = RunToolBudget(max_attempts=3)
    (result,) = await make_gateway().execute(
        [make_call("get_ticket", {"ticket_id": "T-1"})], budget
    )
    assert result.error is not None and result.error["code"] == code
    assert result.attempts == 3 and len(tool_server.requests) == 3


async def test_a_contract_may_lower_the_attempts(
    tool_server: FaultyToolServer, make_gateway: GatewayFactory
) -> None:
    tool_server.fail("status", times=10)
    gateway = make_gateway(note_fields={"max_attempts": 2})
    (result,) = await gateway.execute(
        [make_call("add_note", {"text": "x"})], RunToolBudget(max_attempts=5)
    )
    assert result.attempts == 2 and len(tool_server.requests) == 2


async def test_a_client_error_is_not_retried(
    tool_server: FaultyToolServer, make_gateway: GatewayFactory
) -> None:
    tool_server.fail("status", status=400, message="ticket is closed")
    (result,) = await make_gateway().execute(
        [make_call("add_note", {"text": "x"})], RunToolBudget()
    )
    assert result.error == {
        "code": "http_400",
        "message": "The tool answered 400: ticket is closed",
    }
    assert result.attempts == 1 and len(tool_server.requests) == 1


async def test_retry_after_is_honoured_without_really_waiting(
    tool_server: FaultyToolServer, make_gateway: GatewayFactory
) -> None:
    clock = ManualClock()
    tool_server.fail("status", status=429, retry_after=4)
    (result,) = await make_gateway(clock).execute(
        [make_call("add_note", {"text": "x"})], RunToolBudget()
    )
    assert result.ok and result.attempts == 2
    assert clock.sleeps and clock.sleeps[0] >= 4.0


async def test_the_retry_budget_bounds_retries_under_many_failing_calls(
    tool_server: FaultyToolServer, make_gateway: GatewayFactory
) -> None:
    clock = ManualClock()
    budget = RetryBudget(ratio=0.2, per_second=0.0, burst=1.0)
    never_opens = BreakerPolicy(failure_threshold=1000)
    gateway = make_gateway(clock, retry_budget=budget, breaker_policy=never_opens)
    tool_server.fail("status", times=1000)
    calls = 20
    codes = []
    for index in range(calls):
        call = make_call("add_note", {"text": "x"}, key=f"run_1:{index}:0")
        (result,) = await gateway.execute([call], RunToolBudget(max_attempts=3))
        assert result.error is not None
        codes.append(result.error["code"])
    retries = len(tool_server.requests) - calls
    assert retries <= budget.burst + budget.ratio * calls
    assert retries == 4  # 1 from the initial burst, then one per 5 calls' deposits
    assert codes.count("retry_budget_exhausted") == calls
