"""Attribute names (GenAI semantic conventions and ours) and traceparent helpers.

Names follow the OpenTelemetry GenAI conventions; both ``gen_ai.provider.name`` (current)
and ``gen_ai.system`` (older backends still read it) are set. Our own attributes are
under ``pilothouse.``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import NonRecordingSpan, Span, SpanContext, TraceFlags

OPERATION = "gen_ai.operation.name"
SYSTEM = "gen_ai.system"
PROVIDER = "gen_ai.provider.name"
REQUEST_MODEL = "gen_ai.request.model"
RESPONSE_MODEL = "gen_ai.response.model"
RESPONSE_ID = "gen_ai.response.id"
FINISH_REASONS = "gen_ai.response.finish_reasons"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
AGENT_NAME = "gen_ai.agent.name"
AGENT_ID = "gen_ai.agent.id"
TOOL_NAME = "gen_ai.tool.name"
TOOL_CALL_ID = "gen_ai.tool.call.id"
TOOL_TYPE = "gen_ai.tool.type"
TOOL_ARGUMENTS = "gen_ai.tool.call.arguments"
TOOL_RESULT = "gen_ai.tool.call.result"
INPUT_MESSAGES = "gen_ai.input.messages"
OUTPUT_MESSAGES = "gen_ai.output.messages"
SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
ERROR_TYPE = "error.type"

COST_USD = "pilothouse.cost_usd"
RELEASE_ID = "pilothouse.release_id"
ENVIRONMENT = "pilothouse.environment"
RUN_ID = "pilothouse.run_id"
REQUEST_ID = "pilothouse.request_id"
STATUS = "pilothouse.status"
LIMIT = "pilothouse.limit"
STEPS = "pilothouse.steps"
TOOL_CALLS = "pilothouse.tool_calls"
ATTEMPTS = "pilothouse.tool.attempts"
IDEMPOTENCY_KEY = "pilothouse.tool.idempotency_key"
POLICY_OUTCOME = "pilothouse.policy.outcome"
POLICY_IDS = "pilothouse.policy.policy_ids"

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


def traceparent(span: Span) -> str:
    """The W3C ``traceparent`` that names ``span`` as the parent of a downstream call."""
    context = span.get_span_context()
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def parent_context(headers: Mapping[str, str]) -> Context | None:
    """The context whose span is the one ``headers["traceparent"]`` names, as a remote
    parent (None: a root). Spans of this process find their open parent through
    ``Telemetry.parent_for`` instead; what is parsed here is a caller's header."""
    match = _TRACEPARENT.match(headers.get("traceparent", ""))
    if match is None:
        return None
    remote = SpanContext(
        trace_id=int(match.group(1), 16),
        span_id=int(match.group(2), 16),
        is_remote=True,
        trace_flags=TraceFlags(int(match.group(3), 16)),
    )
    if not remote.is_valid:
        return None
    return trace.set_span_in_context(NonRecordingSpan(remote))


def span_id_of(headers: Mapping[str, str]) -> int | None:
    """The span id a ``traceparent`` header names, or None."""
    match = _TRACEPARENT.match(headers.get("traceparent", ""))
    return int(match.group(2), 16) if match else None
