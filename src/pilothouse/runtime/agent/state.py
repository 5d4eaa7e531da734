"""The explicit state of one agent run, and how governed tool calls look to the model.

The state is a plain dataclass: the executor's steps read and advance it, the journal
records every change that matters, and resume rebuilds it from the journal.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson

from pilothouse.control.agent import AgentSpec, Limits
from pilothouse.control.tool_contract import ToolContract
from pilothouse.protocol.resource import usage as make_usage
from pilothouse.runtime.providers.base import Item
from pilothouse.runtime.tools.base import RunToolBudget


@dataclass(slots=True)
class RunState:
    """Everything the executor knows about a run; rebuilt from the journal on resume.

    Attributes:
        run_id: The response id (a run is a response).
        agent: The agent definition the run started with (releases may move on).
        limits: The effective limits (the agent's, lowered by the request).
        tools: The agent's governed tools, by name.
        instructions: System/developer instructions for every model step.
        history: What the model sees, oldest first.
        output: The response's output items so far (wire shapes).
        client_tools: Function tools the client declared (run by the client).
        options: Model options to forward (temperature, text format …).
        headers: Correlation headers for model and tool calls.
        principal_id: The API key id that started the run (never the key), for the journal.
    """

    run_id: str
    tenant: str
    agent: AgentSpec
    limits: Limits
    tools: dict[str, ToolContract]
    instructions: str | None
    history: list[Item]
    output: list[Item] = field(default_factory=list)
    client_tools: list[dict[str, Any]] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    model: str = ""
    step: int = 0
    tool_calls: int = 0
    per_tool: Counter[str] = field(default_factory=Counter)
    identical: Counter[str] = field(default_factory=Counter)
    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float = 0.0
    started_at: float = field(default_factory=time.time)
    tool_budget: RunToolBudget = field(default_factory=RunToolBudget)
    seq: int = 0
    tools_listed: bool = False
    release_id: str | None = None
    principal_id: str | None = None
    environment: str | None = None
    status: str = "in_progress"
    incomplete_reason: str | None = None

    @property
    def deadline(self) -> float | None:
        """Wall-clock deadline (epoch seconds), when the limits set one."""
        if self.limits.deadline_s is None:
            return None
        return self.started_at + self.limits.deadline_s

    def remaining_s(self) -> float | None:
        """Seconds left before the deadline."""
        deadline = self.deadline
        return None if deadline is None else deadline - time.time()

    def add_usage(self, usage: dict[str, Any] | None) -> None:
        """Fold one model call's usage into the run's totals."""
        if not usage:
            return
        self.input_tokens += int(usage.get("input_tokens") or 0)
        self.output_tokens += int(usage.get("output_tokens") or 0)
        details = usage.get("input_tokens_details") or {}
        self.cached_tokens += int(details.get("cached_tokens") or 0)
        out_details = usage.get("output_tokens_details") or {}
        self.reasoning_tokens += int(out_details.get("reasoning_tokens") or 0)

    def usage(self) -> dict[str, Any]:
        """The run's total usage in wire shape."""
        return make_usage(
            self.input_tokens,
            self.output_tokens,
            cached_tokens=self.cached_tokens,
            reasoning_tokens=self.reasoning_tokens,
        )

    def next_seq(self) -> int:
        """The next journal sequence number."""
        self.seq += 1
        return self.seq


def idempotency_key(run_id: str, step: int, position: int) -> str:
    """The key of a tool call: derived from (run, step, call position), never from the
    model's call id, so that a resumed run sends the same key for the same call."""
    digest = hashlib.sha256(f"{run_id}/{step}/{position}".encode()).hexdigest()
    return f"ph-{digest[:40]}"


def mcp_item_id(run_id: str, step: int, position: int) -> str:
    """A deterministic id for the ``mcp_call`` item of a call (stable across resume)."""
    digest = hashlib.sha256(f"mcp/{run_id}/{step}/{position}".encode()).hexdigest()
    return f"mcp_{digest[:48]}"


def call_signature(name: str, arguments: dict[str, Any]) -> str:
    """Identity of a call for the repeated-identical-call limit."""
    return name + ":" + orjson.dumps(arguments, option=orjson.OPT_SORT_KEYS).decode()


def tool_budget(limits: Limits) -> RunToolBudget:
    """The per-run tool budget the gateway enforces, from the run's limits."""
    return RunToolBudget(
        timeout_s=limits.tool_timeout_s,
        time_budget_s=limits.tool_time_budget_s,
        max_attempts=limits.max_attempts_per_call,
        max_parallel=limits.max_parallel_tools,
        max_output_bytes=limits.max_tool_output_bytes,
    )
