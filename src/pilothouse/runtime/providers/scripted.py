"""The offline, deterministic model: the default when no provider is configured.

Without a script it behaves like a diligent assistant: when it is given function tools
it calls each one it has not called yet in the current turn (all at once when parallel
tool calls are allowed, else one per step) with arguments valid for the tool's schema,
then answers using their results; with no tools it answers from the input. Asked for a
``json_schema`` text format it answers with a valid instance.

A script (YAML or JSON) dictates its turns instead, for tests and demos::

    turns:
      - tool_calls: [{name: get_ticket_status, arguments: {ticket_id: INC-1}}]
      - text: "The ticket is open."
      - error: {status: 429, message: slow down, retry_after: 1}

With ``loop: true`` the turns repeat forever (a runaway model, for limit tests), and
``{turn}`` in a string argument becomes the turn's number.

Which turn applies is derived from the input alone (the number of model turns already in
the history), so the model stays stateless and concurrent runs cannot disturb each other.
Token counts use a simple word-and-punctuation tokenizer, the same for usage and for
``input_tokens``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import yaml

from pilothouse.control.schema_values import Hints, example
from pilothouse.errors import UpstreamError
from pilothouse.protocol import items as wire
from pilothouse.protocol.events import item_events
from pilothouse.protocol.resource import usage as make_usage
from pilothouse.runtime.providers.base import Item, ModelRequest, ModelResult, StreamEvent

TOKEN = re.compile(r"\w+|[^\w\s]")


def count_tokens(text: str) -> int:
    """Tokens in ``text`` by the offline model's tokenizer (words and punctuation)."""
    return len(TOKEN.findall(text))


def request_tokens(request: ModelRequest) -> int:
    """Input tokens of a whole request: instructions, every item and the tool schemas."""
    total = 0
    if isinstance(request.instructions, str):
        total += count_tokens(request.instructions)
    elif request.instructions:
        total += sum(_item_tokens(item) for item in request.instructions)
    total += sum(_item_tokens(item) for item in request.input)
    if request.tools:
        total += count_tokens(orjson.dumps(request.tools).decode())
    return total


def _item_tokens(item: Item) -> int:
    kind = item.get("type", "message")
    if kind == "message":
        return 3 + count_tokens(wire.message_text(item))
    if kind == "function_call":
        return 3 + count_tokens(item.get("name", "") + " " + item.get("arguments", ""))
    if kind == "function_call_output":
        output = item.get("output", "")
        text = output if isinstance(output, str) else orjson.dumps(output).decode()
        return 3 + count_tokens(text)
    return 3 + count_tokens(orjson.dumps(item).decode())


class ScriptedProvider:
    """The offline model. See the module docstring."""

    def __init__(self, name: str = "scripted", script: dict[str, Any] | None = None) -> None:
        self.name = name
        self.turns: list[dict[str, Any]] = list((script or {}).get("turns", []))
        self.loop = bool((script or {}).get("loop", False))

    @classmethod
    def from_file(cls, path: Path, name: str = "scripted") -> ScriptedProvider:
        """A scripted model whose turns come from a YAML or JSON file."""
        return cls(name, yaml.safe_load(path.read_text()) or {})

    async def complete(self, request: ModelRequest) -> ModelResult:
        """Produce this turn's output."""
        return self._respond(request)

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent | ModelResult]:
        """Produce this turn's output as item events, then the result."""
        result = self._respond(request)
        for index, item in enumerate(result.output):
            for event in item_events(item, index):
                yield event
        yield result

    async def count_input_tokens(self, request: ModelRequest) -> int:
        """Input tokens by this model's tokenizer."""
        return request_tokens(request)

    async def aclose(self) -> None:
        """Nothing to release."""

    def _respond(self, request: ModelRequest) -> ModelResult:
        turn = self._scripted_turn(request)
        if turn is not None and "error" in turn:
            err = turn["error"]
            raise UpstreamError(
                err.get("message", "scripted error"),
                status=int(err.get("status", 500)),
                code=err.get("code"),
                retry_after=err.get("retry_after"),
            )
        if turn is None:
            output = self._default_output(request)
        else:
            output = self._scripted_output(turn, request, _model_turns(request.input))
        out_tokens = sum(_output_tokens(item) for item in output)
        result = ModelResult(
            output=output,
            usage=make_usage(request_tokens(request), out_tokens),
            model=request.model,
        )
        limit = request.options.get("max_output_tokens")
        if isinstance(limit, int) and out_tokens > limit:
            _truncate(result, limit)
        return result

    def _scripted_turn(self, request: ModelRequest) -> dict[str, Any] | None:
        if not self.turns:
            return None
        index = _model_turns(request.input)
        if self.loop:
            index %= len(self.turns)
        return self.turns[index] if index < len(self.turns) else None

    def _scripted_output(
        self, turn: dict[str, Any], request: ModelRequest, number: int
    ) -> list[Item]:
        output: list[Item] = []
        for call in turn.get("tool_calls", []):
            arguments = call.get("arguments", {})
            text = arguments if isinstance(arguments, str) else orjson.dumps(arguments).decode()
            text = text.replace("{turn}", str(number))
            output.append(wire.function_call(call["name"], text))
        if "text" in turn:
            output.append(wire.assistant_message(str(turn["text"])))
        return output or self._default_output(request)

    def _default_output(self, request: ModelRequest) -> list[Item]:
        hints = Hints.from_text(_last_user_text(request.input))
        calls = _tools_to_call(request)
        if calls:
            return [
                wire.function_call(
                    tool["name"],
                    orjson.dumps(example(tool.get("parameters") or {}, hints)).decode(),
                )
                for tool in calls
            ]
        return [wire.assistant_message(_answer(request, hints))]


def _model_turns(history: list[Item]) -> int:
    """How many model turns the history holds: each unbroken run of model output (messages,
    function calls, reasoning) is one turn; anything else, a tool result included, ends it."""
    turns, in_turn = 0, False
    for item in history:
        produced = item.get("type") in ("function_call", "reasoning") or (
            item.get("type", "message") == "message" and item.get("role") == "assistant"
        )
        if produced and not in_turn:
            turns += 1
        in_turn = produced
    return turns


def _current_turn(history: list[Item]) -> list[Item]:
    for index in range(len(history) - 1, -1, -1):
        item = history[index]
        if item.get("type", "message") == "message" and item.get("role") == "user":
            return history[index + 1 :]
    return history


def _last_user_text(history: list[Item]) -> str:
    for item in reversed(history):
        if item.get("type", "message") == "message" and item.get("role") == "user":
            return wire.message_text(item)
    return ""


def _tools_to_call(request: ModelRequest) -> list[dict[str, Any]]:
    choice = request.options.get("tool_choice", "auto")
    if choice == "none":
        return []
    tools = [t for t in request.tools if t.get("type") == "function"]
    if isinstance(choice, dict) and choice.get("type") == "function":
        tools = [t for t in tools if t.get("name") == choice.get("name")]
    elif isinstance(choice, dict) and choice.get("type") == "allowed_tools":
        allowed = {t.get("name") for t in choice.get("tools", [])}
        tools = [t for t in tools if t.get("name") in allowed]
    called = {
        i.get("name") for i in _current_turn(request.input) if i.get("type") == "function_call"
    }
    pending = [t for t in tools if t.get("name") not in called]
    if request.options.get("parallel_tool_calls") is False:
        return pending[:1]
    return pending


def _answer(request: ModelRequest, hints: Hints) -> str:
    fmt = (request.options.get("text") or {}).get("format") or {}
    if fmt.get("type") == "json_schema":
        return orjson.dumps(example(fmt.get("schema") or {}, hints)).decode()
    if fmt.get("type") == "json_object":
        return orjson.dumps({"answer": hints.text}).decode()
    results = [
        (i.get("call_id"), i.get("output"))
        for i in _current_turn(request.input)
        if i.get("type") == "function_call_output"
    ]
    if results:
        names = {
            i.get("call_id"): i.get("name")
            for i in request.input
            if i.get("type") == "function_call"
        }
        lines = [f"{names.get(cid, 'tool')}: {_as_text(out)}" for cid, out in results]
        return "Here is what I found. " + " ".join(lines)
    if hints.text:
        return f"You said: {hints.text}"
    return "Hello! How can I help?"


def _as_text(output: Any) -> str:
    return output if isinstance(output, str) else orjson.dumps(output).decode()


def _output_tokens(item: Item) -> int:
    if item["type"] == "message":
        return count_tokens(wire.message_text(item))
    return count_tokens(item.get("name", "") + " " + item.get("arguments", ""))


def _truncate(result: ModelResult, limit: int) -> None:
    """Cut the answer to ``limit`` tokens and mark the result incomplete, as OpenAI does."""
    for item in result.output:
        if item["type"] == "message":
            words = TOKEN.findall(wire.message_text(item))[:limit]
            item["content"][0]["text"] = " ".join(words)
            item["status"] = "incomplete"
    result.status = "incomplete"
    result.incomplete_details = {"reason": "max_output_tokens"}
    if result.usage is not None:
        result.usage = make_usage(result.usage["input_tokens"], limit)
