"""Agent definitions: what an agent is allowed to do, and the bounds it runs inside.

An agent is data (``agents/<name>.yaml`` in a bundle): a model with fallbacks, an
instruction template, the governed tools it may call, and its limits. A request may
lower any limit but never raise one (:meth:`Limits.lowered_by`).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pilothouse.control.guardrails import GuardrailsConfig

_VARIABLE = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")


class RetryBudget(BaseModel):
    """Retries a tool may spend: ``ratio`` of its calls plus ``per_second`` refill."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ratio: float = Field(default=0.2, ge=0)
    per_second: float = Field(default=1.0, ge=0)
    burst: float = Field(default=10.0, ge=0)


class Limits(BaseModel):
    """Hard bounds of one run. ``None`` means unbounded (only sensible for trusted agents)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_steps: int | None = Field(default=10, ge=1)
    max_tool_calls: int | None = Field(default=20, ge=0)
    max_tool_calls_per_tool: dict[str, int] = Field(default_factory=dict)
    max_identical_calls: int | None = Field(default=3, ge=1)
    max_output_tokens: int | None = Field(default=None, ge=1)
    max_cost_usd: float | None = Field(default=None, ge=0)
    deadline_s: float | None = Field(default=120.0, gt=0)
    tool_timeout_s: float = Field(default=30.0, gt=0)
    tool_time_budget_s: float | None = Field(default=120.0, gt=0)
    max_parallel_tools: int = Field(default=4, ge=1)
    max_attempts_per_call: int = Field(default=3, ge=1)
    max_tool_output_bytes: int = Field(default=256 * 1024, ge=1)
    retry_budget: RetryBudget = Field(default_factory=RetryBudget)

    def lowered_by(self, requested: dict[str, Any]) -> Limits:
        """These limits with ``requested`` applied where it is stricter; looser values are
        ignored, so a request can never raise a bound its agent sets."""
        merged: dict[str, Any] = {}
        for key, value in requested.items():
            if value is None or key not in Limits.model_fields or key == "retry_budget":
                continue
            current = getattr(self, key)
            if key == "max_tool_calls_per_tool":
                combined = dict(current)
                for tool, cap in value.items():
                    combined[tool] = min(cap, combined.get(tool, cap))
                merged[key] = combined
            elif current is None or value < current:
                merged[key] = value
        return self.model_copy(update=merged) if merged else self


class AgentPolicy(BaseModel):
    """How an agent's run reacts to authorization (``policy:`` in its YAML).

    Attributes:
        on_deny: ``continue`` hands a denied tool call back to the model as the tool's
            error result and lets it go on; ``end`` also ends the run ``incomplete``
            (reason ``policy_denied``) with a final message.
        four_eyes: Every approval this agent's runs ask for must be given by a key other
            than the one that started the run (tools may require it on their own).
        approval_ttl_s: How long an approval request stays open and an approval usable.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    on_deny: Literal["continue", "end"] = "continue"
    four_eyes: bool = False
    approval_ttl_s: int = Field(default=3600, ge=1)


class AgentSpec(BaseModel):
    """One agent as its bundle file declares it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$")
    description: str = ""
    version: str = "1"
    model: str
    fallbacks: list[str] = Field(default_factory=list)
    instructions: str = ""
    variables: dict[str, str] = Field(default_factory=dict)
    tools: list[str] = Field(default_factory=list)
    tool_namespace: str | None = None
    limits: Limits = Field(default_factory=Limits)
    temperature: float | None = Field(default=None, ge=0, le=2)
    end_on_tool_error: bool = False
    guardrails: GuardrailsConfig | None = None
    policy: AgentPolicy = Field(default_factory=AgentPolicy)

    @field_validator("tools")
    @classmethod
    def _unique_tools(cls, tools: list[str]) -> list[str]:
        if len(set(tools)) != len(tools):
            raise ValueError("tools must not repeat")
        return tools

    @property
    def server_label(self) -> str:
        """The ``server_label`` of this agent's governed tools on the wire."""
        return self.tool_namespace or self.name

    def render_instructions(self, variables: dict[str, Any] | None = None) -> str:
        """The instruction template with ``{{ name }}`` fields filled in."""
        return render_template(self.instructions, {**self.variables, **(variables or {})})


def render_template(template: str, variables: dict[str, Any]) -> str:
    """Replace ``{{ name }}`` fields; unknown names are left as written."""
    if "{{" not in template:  # most instructions have no fields: nothing to scan
        return template

    def substitute(match: re.Match[str]) -> str:
        value = variables.get(match.group(1))
        if value is None:
            return match.group(0)
        if isinstance(value, dict):  # an input_text variable, as the Responses API allows
            return str(value.get("text", ""))
        return str(value)

    return _VARIABLE.sub(substitute, template)
