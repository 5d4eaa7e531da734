"""Responses ⇄ Chat Completions: request bodies, answers, usage and finish reasons.

Pure functions used by :mod:`.chat_completions` (HTTP) and :mod:`.chat_stream` (streaming).

Requests (:func:`chat_body`):

* ``instructions`` become a leading ``system`` message; ``developer`` messages become
  ``system`` too, because the servers this bridge is for (vLLM, llama.cpp, Ollama,
  LM Studio) know only ``system``/``user``/``assistant``/``tool``;
* message content: a string stays a string; ``input_text``/``output_text`` parts become
  ``text`` parts and ``input_image`` becomes an ``image_url`` part (user messages only;
  other roles get their text joined, as chat templates expect a string there);
* ``function_call`` items become ``tool_calls`` of an assistant message (consecutive calls,
  and a message just before them, share one message); ``function_call_output`` items
  become ``role: tool`` messages; ``reasoning`` items are dropped (Chat Completions cannot
  take them back);
* flat function tools become ``{"type": "function", "function": {…}}``; a ``tool_choice``
  naming a function is nested the same way; ``allowed_tools`` is applied by sending only
  the allowed tools with its mode, which every server understands;
* ``text.format`` ``json_schema`` becomes ``response_format: {type: json_schema,
  json_schema: {name, schema, strict}}`` (``json_object`` likewise);
* ``max_output_tokens`` becomes ``max_tokens``, not ``max_completion_tokens``: OpenAI
  renamed it, but llama.cpp's server (before 2026-02), llama-cpp-python and Ollama read
  only ``max_tokens`` and silently ignore the new name — an unbounded generation where a
  limit was asked for — while vLLM and LM Studio accept both. OpenAI itself, which rejects
  ``max_tokens`` for reasoning models, is served by the Responses provider instead;
* ``temperature``, ``top_p``, penalties, ``parallel_tool_calls`` and ``user`` are sent
  under the same names; ``reasoning.effort`` becomes ``reasoning_effort``. OpenAI-only
  knobs (``service_tier``, ``prompt_cache_key``, ``safety_identifier``, ``truncation``,
  ``include``, ``max_tool_calls``, ``top_logprobs``, ``text.verbosity``) are not sent.

Anything that has no Chat Completions form — hosted tools, file or audio parts, images by
``file_id``, tool outputs with images — is refused with ``InvalidRequest`` naming the
parameter, rather than dropped.

Answers (:func:`result_from_completion`): the message's text becomes a ``message`` item
with one ``output_text`` part (left out when it is only whitespace next to tool calls, as
local models often emit), ``tool_calls`` become ``function_call`` items whose ``call_id``
is the tool call's id; ``finish_reason`` ``length`` means ``incomplete`` with reason
``max_output_tokens`` (``content_filter`` likewise) and marks the last item incomplete;
usage maps ``prompt``/``completion`` tokens and their cached/reasoning details.
Refusals and ``reasoning_content`` (non-standard) are not mapped.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from pilothouse.errors import InvalidRequest, UpstreamError
from pilothouse.protocol import items as wire
from pilothouse.protocol.resource import usage as make_usage
from pilothouse.runtime.providers.base import Item, ModelRequest, ModelResult

# Options sent under the same name in both APIs.
_SAME_NAME = (
    "temperature",
    "top_p",
    "presence_penalty",
    "frequency_penalty",
    "parallel_tool_calls",
    "user",
)
_ROLES = {"user": "user", "assistant": "assistant", "system": "system", "developer": "system"}
_TEXT_PARTS = frozenset({"input_text", "output_text"})

# Token estimate: bytes of the serialised request per token, and a flat cost per image.
BYTES_PER_TOKEN = 3
IMAGE_TOKENS = 1_600

Chat = dict[str, Any]


# -- requests ------------------------------------------------------------------------------


def chat_body(request: ModelRequest, *, stream: bool) -> Chat:
    """The Chat Completions body for ``request`` (see the module docstring).

    Raises:
        InvalidRequest: Some input, tool or option has no Chat Completions form.
    """
    options = request.options
    body: Chat = {**request.extra, "model": request.model, "messages": chat_messages(request)}
    tools = [_tool(tool, f"tools[{i}]") for i, tool in enumerate(request.tools)]
    choice = options.get("tool_choice")
    if choice is not None:
        tools, body["tool_choice"] = _tool_choice(choice, tools)
    if tools:
        body["tools"] = tools
    for key in _SAME_NAME:
        if options.get(key) is not None:
            body[key] = options[key]
    if options.get("max_output_tokens") is not None:
        body["max_tokens"] = options["max_output_tokens"]
    effort = (options.get("reasoning") or {}).get("effort")
    if effort is not None:
        body["reasoning_effort"] = effort
    response_format = _response_format((options.get("text") or {}).get("format"))
    if response_format is not None:
        body["response_format"] = response_format
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def chat_messages(request: ModelRequest) -> list[Chat]:
    """The instructions and input of ``request`` as chat messages, oldest first."""
    messages: list[Chat] = []
    if isinstance(request.instructions, str):
        if request.instructions:
            messages.append({"role": "system", "content": request.instructions})
    elif request.instructions:
        for index, item in enumerate(request.instructions):
            _add_item(messages, item, f"instructions[{index}]")
    for index, item in enumerate(request.input):
        _add_item(messages, item, f"input[{index}]")
    return messages


def _add_item(messages: list[Chat], item: Item, where: str) -> None:
    kind = item.get("type", "message")
    if kind == "message":
        role = _ROLES.get(str(item.get("role")))
        if role is None:
            raise _unsupported(f"{where}.role", f"the role '{item.get('role')}'")
        messages.append({"role": role, "content": _content(role, item.get("content"), where)})
    elif kind == "function_call":
        call = {
            "id": item["call_id"],
            "type": "function",
            "function": {"name": item["name"], "arguments": item.get("arguments") or "{}"},
        }
        last = messages[-1] if messages else None
        if last is not None and last["role"] == "assistant":
            last.setdefault("tool_calls", []).append(call)
        else:
            messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
    elif kind == "function_call_output":
        messages.append(
            {
                "role": "tool",
                "tool_call_id": item["call_id"],
                "content": _tool_output(item.get("output"), f"{where}.output"),
            }
        )
    elif kind != "reasoning":
        raise _unsupported(where, f"an input item of type '{kind}'")


def _content(role: str, content: Any, where: str) -> str | list[Chat]:
    if isinstance(content, str):
        return content
    parts = [_part(part, f"{where}.content[{i}]") for i, part in enumerate(content or [])]
    if role == "user":
        if len(parts) == 1 and parts[0]["type"] == "text":
            return str(parts[0]["text"])
        return parts
    for index, part in enumerate(parts):
        if part["type"] != "text":
            raise _unsupported(f"{where}.content[{index}]", f"an image in a {role} message")
    return "".join(str(part["text"]) for part in parts)


def _part(part: Any, where: str) -> Chat:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind in _TEXT_PARTS:
        return {"type": "text", "text": part.get("text", "")}
    if kind == "refusal":
        return {"type": "text", "text": part.get("refusal", "")}
    if kind == "input_image" and part.get("image_url"):
        image: Chat = {"url": part["image_url"]}
        if part.get("detail"):
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    what = "an image given by file_id" if kind == "input_image" else f"a '{kind}' part"
    raise _unsupported(where, what)


def _tool_output(output: Any, where: str) -> str:
    if isinstance(output, str):
        return output
    if isinstance(output, list) and all(
        isinstance(p, dict) and p.get("type") in _TEXT_PARTS for p in output
    ):
        return "".join(str(p.get("text", "")) for p in output)
    if isinstance(output, list):
        raise _unsupported(where, "a tool output with non-text parts")
    return orjson.dumps(output).decode()


def _tool(tool: dict[str, Any], where: str) -> Chat:
    if tool.get("type") != "function":
        raise _unsupported(where, f"a tool of type '{tool.get('type')}'")
    function: Chat = {"name": tool["name"]}
    for key in ("description", "parameters", "strict"):
        if tool.get(key) is not None:
            function[key] = tool[key]
    return {"type": "function", "function": function}


def _tool_choice(choice: Any, tools: list[Chat]) -> tuple[list[Chat], Any]:
    """The tools to send and the chat ``tool_choice`` for a Responses ``tool_choice``."""
    if choice in ("auto", "none", "required"):
        return tools, choice
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind == "function":
        return tools, {"type": "function", "function": {"name": choice["name"]}}
    if kind == "allowed_tools" and choice.get("mode", "auto") in ("auto", "required"):
        allowed = set()
        for index, entry in enumerate(choice.get("tools") or []):
            if entry.get("type") != "function":
                raise _unsupported(f"tool_choice.tools[{index}]", "a non-function tool")
            allowed.add(entry.get("name"))
        kept = [tool for tool in tools if tool["function"]["name"] in allowed]
        return kept, choice.get("mode", "auto")
    raise _unsupported("tool_choice", f"the tool choice {orjson.dumps(choice).decode()}")


def _response_format(fmt: Any) -> Chat | None:
    if not isinstance(fmt, dict) or fmt.get("type") in (None, "text"):
        return None
    if fmt["type"] == "json_object":
        return {"type": "json_object"}
    if fmt["type"] == "json_schema":
        schema: Chat = {"name": fmt.get("name") or "response", "schema": fmt.get("schema") or {}}
        for key in ("description", "strict"):
            if fmt.get(key) is not None:
                schema[key] = fmt[key]
        return {"type": "json_schema", "json_schema": schema}
    raise _unsupported("text.format", f"the text format '{fmt['type']}'")


def _unsupported(param: str, what: str) -> InvalidRequest:
    return InvalidRequest(
        f"Invalid '{param}': {what} cannot be sent to a model served over Chat Completions.",
        param=param,
        code="unsupported_value",
    )


def estimate_input_tokens(body: Chat) -> int:
    """A conservative estimate of the input tokens of a chat ``body``.

    Chat Completions has no token-counting endpoint, so this counts one token per
    :data:`BYTES_PER_TOKEN` bytes of the serialised messages, tools and response format,
    plus :data:`IMAGE_TOKENS` per image (whose URL, often a large data URL, is not counted).
    Tokenizers average about four bytes per token on English text and JSON, and about three
    on CJK text, so this over-counts rather than under-counts: it is meant for budgets and
    limits, where a low guess is the costly error.
    """
    images = 0
    messages = []
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, list):
            images += sum(1 for part in content if part.get("type") == "image_url")
            content = [part for part in content if part.get("type") != "image_url"]
        messages.append({**message, "content": content})
    counted = {
        "messages": messages,
        "tools": body.get("tools"),
        "format": body.get("response_format"),
    }
    return math.ceil(len(orjson.dumps(counted)) / BYTES_PER_TOKEN) + images * IMAGE_TOKENS


# -- answers -------------------------------------------------------------------------------


def result_from_completion(payload: Chat) -> ModelResult:
    """A ModelResult from a ``chat.completion`` object.

    Raises:
        UpstreamError: The completion has no choice (``upstream_bad_response``).
    """
    choices = payload.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise UpstreamError(
            "The upstream's chat completion has no choices.", code="upstream_bad_response"
        )
    message = choices[0].get("message") or {}
    output = output_items(_text(message.get("content")), message.get("tool_calls") or [])
    status, details = outcome(choices[0].get("finish_reason"))
    if status == "incomplete" and output:
        output[-1]["status"] = "incomplete"
    return ModelResult(
        output=output,
        usage=chat_usage(payload.get("usage")),
        status=status,
        incomplete_details=details,
        model=payload.get("model"),
    )


def output_items(text: str, tool_calls: list[Chat]) -> list[Item]:
    """The output items of one assistant message: its text, then its tool calls."""
    output: list[Item] = []
    if not tool_calls or text.strip():
        output.append(wire.assistant_message(text))
    for call in tool_calls:
        function = call.get("function") or {}
        output.append(
            wire.function_call(
                str(function.get("name") or ""),
                arguments_text(function.get("arguments")),
                call_id=call.get("id") or None,
            )
        )
    return output


def arguments_text(arguments: Any) -> str:
    """Tool-call arguments as the JSON text Responses carries (some servers send objects)."""
    if arguments is None:
        return ""
    return arguments if isinstance(arguments, str) else orjson.dumps(arguments).decode()


def outcome(finish_reason: Any) -> tuple[str, dict[str, Any] | None]:
    """The Responses status and ``incomplete_details`` for a chat ``finish_reason``."""
    if finish_reason == "length":
        return "incomplete", {"reason": "max_output_tokens"}
    if finish_reason == "content_filter":
        return "incomplete", {"reason": "content_filter"}
    return "completed", None


def chat_usage(raw: Any) -> dict[str, Any] | None:
    """Responses usage (both details objects) from chat usage, or None when absent."""
    if not isinstance(raw, dict):
        return None
    prompt_details = raw.get("prompt_tokens_details") or {}
    completion_details = raw.get("completion_tokens_details") or {}
    return make_usage(
        int(raw.get("prompt_tokens") or 0),
        int(raw.get("completion_tokens") or 0),
        cached_tokens=int(prompt_details.get("cached_tokens") or 0),
        reasoning_tokens=int(completion_details.get("reasoning_tokens") or 0),
    )


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""
