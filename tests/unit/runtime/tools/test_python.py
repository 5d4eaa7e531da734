"""The python adapter: sync in a thread, async awaited, key and context injected."""

from __future__ import annotations

import threading

import pytest

from pilothouse.control.tool_contract import PythonBinding
from pilothouse.runtime.tools.base import ToolFailure
from pilothouse.runtime.tools.python import PythonAdapter, load_target

from .conftest import make_call

MODULE = "tests.unit.runtime.tools.sample_tools"


def adapter(function: str) -> PythonAdapter:
    return PythonAdapter.from_binding(PythonBinding(type="python", target=f"{MODULE}:{function}"))


async def test_sync_function_runs_in_a_worker_thread() -> None:
    output = await adapter("add").invoke(make_call("add", {"a": 2, "b": 3}), 5.0)
    assert output["sum"] == 5
    assert output["thread"] != threading.get_ident()


async def test_async_function_is_awaited_on_the_loop() -> None:
    output = await adapter("greet").invoke(make_call("greet", {"name": "Ada"}), 5.0)
    assert output == {"greeting": "hello Ada", "thread": threading.get_ident()}


async def test_idempotency_key_and_context_are_injected_and_cannot_be_forged() -> None:
    call = make_call(
        "record_note",
        {"text": "rolled back", "idempotency_key": "forged-by-model"},
        call_id="call_7",
        attempt=2,
    )
    output = await adapter("record_note").invoke(call, 5.0)
    assert output == {
        "text": "rolled back",
        "key": "run_1:1:0",
        "run_id": "run_1",
        "call_id": "call_7",
        "traceparent": call.headers["traceparent"],
        "attempt": 2,
    }


async def test_an_exception_is_a_non_retryable_tool_error() -> None:
    with pytest.raises(ToolFailure) as caught:
        await adapter("broken").invoke(make_call("broken"), 5.0)
    assert (caught.value.code, caught.value.retryable) == ("tool_error", False)
    assert caught.value.message.startswith("KeyError")


async def test_a_tool_failure_keeps_its_retryability() -> None:
    with pytest.raises(ToolFailure) as caught:
        await adapter("overloaded").invoke(make_call("overloaded"), 5.0)
    assert (caught.value.code, caught.value.retryable, caught.value.retry_after) == (
        "busy",
        True,
        0.5,
    )


async def test_pydantic_outputs_become_json_data() -> None:
    output = await adapter("ticket").invoke(make_call("ticket", {"ticket_id": "T-1"}), 5.0)
    assert output == {"ticket_id": "T-1", "status": "open"}


async def test_static_methods_are_reachable_by_dotted_path() -> None:
    assert await adapter("Tools.double").invoke(make_call("double", {"x": 21}), 5.0) == 42


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("tests.unit.runtime.tools.no_such_module:f", "cannot import"),
        (f"{MODULE}:missing", "does not exist"),
        (f"{MODULE}:NOT_CALLABLE", "is not callable"),
    ],
)
def test_bad_targets_fail_when_the_adapter_is_built(target: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_target(target)
