"""The ``Response`` object as sent on the wire.

:func:`build_resource` emits every key the Open Responses ``ResponseResource`` requires,
with the request's values echoed and the spec's defaults filled in, so that strict
validators and the SDK's models both accept it.
"""

from __future__ import annotations

from typing import Any

from pilothouse.protocol.items import normalize_tool
from pilothouse.protocol.requests import CreateResponse

Resource = dict[str, Any]

TERMINAL_STATUSES = frozenset({"completed", "failed", "incomplete", "cancelled"})


def empty_usage() -> dict[str, Any]:
    """A usage object with every detail key at zero."""
    return usage(0, 0)


def usage(
    input_tokens: int, output_tokens: int, *, cached_tokens: int = 0, reasoning_tokens: int = 0
) -> dict[str, Any]:
    """A complete usage object (both ``*_details`` objects, as Open Responses requires)."""
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": cached_tokens},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
        "total_tokens": input_tokens + output_tokens,
    }


def normalize_usage(raw: dict[str, Any] | None) -> dict[str, Any] | None:
    """An upstream's usage with any missing detail keys filled in."""
    if raw is None:
        return None
    in_details = raw.get("input_tokens_details") or {}
    out_details = raw.get("output_tokens_details") or {}
    result = usage(
        int(raw.get("input_tokens") or 0),
        int(raw.get("output_tokens") or 0),
        cached_tokens=int(in_details.get("cached_tokens") or 0),
        reasoning_tokens=int(out_details.get("reasoning_tokens") or 0),
    )
    for key, value in in_details.items():
        result["input_tokens_details"].setdefault(key, value)
    return result


def build_resource(
    request: CreateResponse,
    *,
    response_id: str,
    created_at: int,
    status: str,
    model: str,
    output: list[dict[str, Any]] | None = None,
    usage: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
    incomplete_details: dict[str, Any] | None = None,
    completed_at: int | None = None,
) -> Resource:
    """The full response object for ``request`` in the given state."""
    reasoning = request.reasoning or {}
    text = dict(request.text or {})
    text.setdefault("format", {"type": "text"})
    text.setdefault("verbosity", "medium")
    resource: Resource = {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "background": bool(request.background),
        "completed_at": completed_at,
        "conversation": {"id": request.conversation_id} if request.conversation_id else None,
        "error": error,
        "frequency_penalty": request.frequency_penalty or 0.0,
        "incomplete_details": incomplete_details,
        "instructions": request.instructions,
        "max_output_tokens": request.max_output_tokens,
        "max_tool_calls": request.max_tool_calls,
        "metadata": request.metadata or {},
        "model": model,
        "output": output if output is not None else [],
        "parallel_tool_calls": (
            True if request.parallel_tool_calls is None else request.parallel_tool_calls
        ),
        "presence_penalty": request.presence_penalty or 0.0,
        "previous_response_id": request.previous_response_id,
        "prompt": request.prompt,
        "prompt_cache_key": request.prompt_cache_key,
        "reasoning": {
            "effort": reasoning.get("effort"),
            "summary": reasoning.get("summary"),
        },
        "safety_identifier": request.safety_identifier,
        "service_tier": request.service_tier or "default",
        "store": True if request.store is None else request.store,
        "temperature": 1.0 if request.temperature is None else request.temperature,
        "text": text,
        "tool_choice": request.tool_choice if request.tool_choice is not None else "auto",
        "tools": [normalize_tool(t) for t in request.tools or []],
        "top_logprobs": request.top_logprobs or 0,
        "top_p": 1.0 if request.top_p is None else request.top_p,
        "truncation": request.truncation or "disabled",
        "usage": usage,
        "user": request.user,
    }
    return resource
