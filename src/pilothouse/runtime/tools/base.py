"""The tool boundary: adapters that reach a tool, and the gateway in front of them.

A :class:`ToolAdapter` performs one attempt of one call and either returns the tool's
JSON output or raises :class:`ToolFailure` saying whether a retry could help. Everything
else — argument validation, timeouts, retries within budgets, circuit breakers, output
validation and size caps, concurrency — belongs to the :class:`ToolGateway`, which the
executor calls with a batch of calls and which never raises for a tool's failure: each
call yields a :class:`ToolResult`, success or error, that goes back to the model.

Contract for adapters:

* ``invoke`` sends ``call.idempotency_key`` the way its transport allows (the
  ``Idempotency-Key`` header for HTTP, an argument or metadata for Python and MCP), and the
  correlation ``call.headers`` (``traceparent``, ``X-Pilothouse-Run-Id``) likewise.
* The same key on every attempt of the same call: tools use it to apply a side effect once.
* Timeouts are the gateway's; an adapter may still set a transport timeout slightly longer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(slots=True)
class ToolCall:
    """One call of a governed tool, as the gateway dispatches it.

    Attributes:
        name: The contract name.
        arguments: The model's arguments, parsed.
        call_id: The model's call id (for correlation only, never for idempotency).
        idempotency_key: Derived from (run, step, position); the same on every attempt.
        run_id: The run (response) id.
        headers: Correlation headers to pass to the tool.
        attempt: 1 for the first attempt.
    """

    name: str
    arguments: dict[str, Any]
    call_id: str
    idempotency_key: str
    run_id: str
    headers: dict[str, str] = field(default_factory=dict)
    attempt: int = 1


class ToolFailure(Exception):
    """One attempt failed.

    Attributes:
        retryable: Whether another attempt could succeed (timeouts, connection errors,
            429 and 5xx); 4xx and invalid output are not.
        retry_after: Seconds the tool asked to wait, when it said.
        code: A stable code for the model and the journal (``timeout``, ``http_503`` …).
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        code: str = "tool_error",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.code = code
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt that reached the adapter, for the journal's ``tool.attempt`` events.

    Attributes:
        number: 1 for the first attempt.
        started_at: Epoch seconds when it was sent.
        latency_s: How long it took (gateway clock).
        error_type: The failure's code (``timeout``, ``http_503`` …), None on success.
        retryable: Whether the failure was one a retry could mend.
    """

    number: int
    started_at: float
    latency_s: float
    error_type: str | None = None
    retryable: bool = False


@dataclass(slots=True)
class ToolResult:
    """What a call came to, for the model and the journal.

    ``output`` is the tool's JSON output on success; on error it is ``None`` and
    ``error`` holds ``{code, message}`` (codes: ``invalid_arguments``, ``timeout``,
    ``tool_unavailable``, ``tool_error``, ``invalid_output``, ``output_too_large``,
    ``retry_budget_exhausted``, ``tool_time_budget_exhausted``, ``unknown_tool``).
    """

    call: ToolCall
    output: Any = None
    error: dict[str, str] | None = None
    attempts: int = 0
    latency_s: float = 0.0
    attempt_log: list[Attempt] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the tool succeeded."""
        return self.error is None


class ToolAdapter(Protocol):
    """One way of reaching a tool. See the module docstring for the contract."""

    async def invoke(self, call: ToolCall, timeout_s: float) -> Any:
        """Perform one attempt; return the JSON output or raise ToolFailure."""
        ...

    async def aclose(self) -> None:
        """Release connections and subprocesses."""
        ...


class ToolGateway(Protocol):
    """Runs a batch of calls with every protection applied; never raises for a tool."""

    async def execute(self, calls: list[ToolCall], budget: RunToolBudget) -> list[ToolResult]:
        """Run ``calls`` (concurrently, up to the run's cap) and return one result each."""
        ...

    async def aclose(self) -> None:
        """Close every adapter."""
        ...


@dataclass(slots=True)
class RunToolBudget:
    """Per-run tool limits the gateway enforces across batches.

    Attributes:
        timeout_s: Per-attempt timeout (a contract's own ``timeout_s`` may lower it).
        time_budget_s: Total tool time the run may still spend (None: unbounded).
        max_attempts: Attempts per call (a contract's ``max_attempts`` may lower it).
        max_parallel: Calls in flight at once.
        max_output_bytes: Serialised output cap per call.
        spent_s: Tool time spent so far (the gateway adds to it).
    """

    timeout_s: float = 30.0
    time_budget_s: float | None = None
    max_attempts: int = 3
    max_parallel: int = 4
    max_output_bytes: int = 256 * 1024
    spent_s: float = 0.0
