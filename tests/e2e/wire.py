"""Helpers for reading the wire directly (raw HTTP and SSE) in end-to-end tests."""

from __future__ import annotations

from typing import Any

import httpx2 as httpx
import openresponses_types.types as spec
import orjson
from openai.types.responses.response_output_item import (
    McpApprovalRequest,
    McpCall,
    McpListTools,
)

# Every key the Open Responses ResponseResource requires to be present (null allowed).
REQUIRED_KEYS = frozenset(spec.ResponseResource.model_fields)

_EVENT_MODELS: dict[str, Any] = {
    "response.created": spec.ResponseCreatedStreamingEvent,
    "response.queued": spec.ResponseQueuedStreamingEvent,
    "response.in_progress": spec.ResponseInProgressStreamingEvent,
    "response.completed": spec.ResponseCompletedStreamingEvent,
    "response.failed": spec.ResponseFailedStreamingEvent,
    "response.incomplete": spec.ResponseIncompleteStreamingEvent,
    "response.output_item.added": spec.ResponseOutputItemAddedStreamingEvent,
    "response.output_item.done": spec.ResponseOutputItemDoneStreamingEvent,
    "response.content_part.added": spec.ResponseContentPartAddedStreamingEvent,
    "response.content_part.done": spec.ResponseContentPartDoneStreamingEvent,
    "response.output_text.delta": spec.ResponseOutputTextDeltaStreamingEvent,
    "response.output_text.done": spec.ResponseOutputTextDoneStreamingEvent,
    "response.function_call_arguments.delta": spec.ResponseFunctionCallArgumentsDeltaStreamingEvent,
    "response.function_call_arguments.done": spec.ResponseFunctionCallArgumentsDoneStreamingEvent,
}


# OpenAI's hosted-tool items, outside the Open Responses core union: checked against the
# official SDK's strict models instead.
_SDK_ITEMS: dict[str, Any] = {
    "mcp_call": McpCall,
    "mcp_list_tools": McpListTools,
    "mcp_approval_request": McpApprovalRequest,
}


def check_resource(payload: dict[str, Any]) -> None:
    """Assert ``payload`` has every required key and validates as the spec's resource
    (with ``mcp_*`` items validated as the ``openai`` SDK defines them)."""
    missing = REQUIRED_KEYS - payload.keys()
    assert not missing, f"response lacks required keys: {sorted(missing)}"
    core = []
    for item in payload["output"]:
        model = _SDK_ITEMS.get(item["type"])
        if model is None:
            core.append(item)
        else:
            model.model_validate(item, strict=False)
            assert set(model.model_fields) >= set(item), f"unknown keys in {item['type']}"
    spec.ResponseResource.model_validate({**payload, "output": core})


def check_event(event: dict[str, Any]) -> None:
    """Validate one stream event against its spec model (when the spec has one)."""
    model = _EVENT_MODELS.get(event["type"])
    if model is not None:
        model.model_validate(event)


def parse_sse(raw: bytes) -> list[dict[str, Any]]:
    """The JSON payloads of an SSE body, checking each ``event:`` name matches its type."""
    events: list[dict[str, Any]] = []
    for block in raw.split(b"\n\n"):
        if not block.strip():
            continue
        name = None
        data = []
        for line in block.split(b"\n"):
            if line.startswith(b"event: "):
                name = line[7:].decode()
            elif line.startswith(b"data: "):
                data.append(line[6:])
        event = orjson.loads(b"\n".join(data))
        assert name is None or name == event["type"]
        events.append(event)
    return events


def stream_events(http: httpx.Client, method: str, path: str, **kwargs: Any) -> list[Any]:
    """Send a request whose answer is SSE and return the parsed events."""
    response = http.request(method, path, **kwargs)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return parse_sse(response.content)
