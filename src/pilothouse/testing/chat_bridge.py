"""Chat Completions answers for the fake upstream, decided by the scripted model.

Chat messages are read as Responses items, the offline model answers, and its output
is written back as a ``chat.completion`` (or its ``chat.completion.chunk`` stream), so
that a fake Chat Completions server behaves like the Responses one.
"""

from __future__ import annotations

import time
from typing import Any

from pilothouse.runtime.providers.base import ModelRequest
from pilothouse.runtime.providers.scripted import ScriptedProvider


def chat_completion(
    body: dict[str, Any], usage: dict[str, Any] | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The completion for ``body`` and the same as stream chunks."""
    result = ScriptedProvider()._respond(_as_model_request(body))
    text = "".join(
        part.get("text", "")
        for item in result.output
        if item["type"] == "message"
        for part in item["content"]
    )
    calls = [
        {
            "id": item["call_id"],
            "type": "function",
            "function": {"name": item["name"], "arguments": item["arguments"]},
        }
        for item in result.output
        if item["type"] == "function_call"
    ]
    tokens = result.usage or {}
    chat_usage = usage or {
        "prompt_tokens": tokens.get("input_tokens", 0),
        "completion_tokens": tokens.get("output_tokens", 0),
        "total_tokens": tokens.get("total_tokens", 0),
    }
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    if calls:
        message["tool_calls"] = calls
    finish = "tool_calls" if calls else "stop"
    created = int(time.time())
    base = {"id": "chatcmpl-fake", "created": created, "model": body.get("model", "")}
    payload = {
        **base,
        "object": "chat.completion",
        "usage": chat_usage,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
    }
    chunks: list[dict[str, Any]] = []
    chunk = {**base, "object": "chat.completion.chunk"}
    chunks.append(
        {**chunk, "choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]}
    )
    if text:
        chunks.append(
            {**chunk, "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}
        )
    for index, call in enumerate(calls):
        delta = {"tool_calls": [{"index": index, **call}]}
        chunks.append({**chunk, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
    chunks.append({**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    chunks.append({**chunk, "choices": [], "usage": chat_usage})
    return payload, chunks


def _as_model_request(body: dict[str, Any]) -> ModelRequest:
    items: list[dict[str, Any]] = []
    instructions: str | None = None
    for message in body.get("messages", []):
        role = message.get("role")
        if role in ("system", "developer"):
            instructions = str(message.get("content") or "")
        elif role == "tool":
            items.append(
                {
                    "type": "function_call_output",
                    "call_id": message.get("tool_call_id"),
                    "output": message.get("content", ""),
                }
            )
        elif role == "assistant" and message.get("tool_calls"):
            for call in message["tool_calls"]:
                items.append(
                    {
                        "type": "function_call",
                        "call_id": call["id"],
                        "name": call["function"]["name"],
                        "arguments": call["function"]["arguments"],
                    }
                )
        else:
            items.append({"type": "message", "role": role, "content": message.get("content", "")})
    tools = [
        {"type": "function", **tool["function"]}
        for tool in body.get("tools", [])
        if tool.get("type") == "function"
    ]
    options: dict[str, Any] = {
        k: body[k] for k in ("tool_choice", "parallel_tool_calls") if k in body
    }
    return ModelRequest(
        model=str(body.get("model", "")),
        input=items,
        instructions=instructions,
        tools=tools,
        options=options,
    )
