"""A hijacked model: it obeys any instruction it reads, wherever it reads it.

For prompt-injection tests. The model scans everything it is given — instructions, user
text, tool results (retrieved documents included) and tool descriptions — for
directives of the form ``CALL <tool> {<flat JSON object>}`` and asks for the first one
it has not asked for yet in this conversation, one per turn; with none left it answers
"Done.". It never refuses: whatever stops an attacker's call must be Pilothouse.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import orjson

from pilothouse.protocol import items as wire
from pilothouse.protocol.events import item_events
from pilothouse.protocol.resource import usage
from pilothouse.runtime.providers.base import Item, ModelRequest, ModelResult, StreamEvent

DIRECTIVE = re.compile(r"CALL (\w+) (\{[^{}]*\})")


def directive(tool: str, arguments: dict[str, Any]) -> str:
    """The text that makes this model call ``tool`` with ``arguments``."""
    return f"CALL {tool} {orjson.dumps(arguments).decode()}"


class HijackedModel:
    """See the module docstring."""

    name = "hijacked"

    async def complete(self, request: ModelRequest) -> ModelResult:
        """Obey the next unanswered directive."""
        made = {
            (item.get("name"), _canonical(item.get("arguments") or "{}"))
            for item in request.input
            if item.get("type") == "function_call"
        }
        for tool, arguments in _directives(request):
            if (tool, _canonical(arguments)) not in made:
                call = wire.function_call(tool, arguments)
                return ModelResult(output=[call], usage=usage(10, 5), model=request.model)
        return ModelResult(
            output=[wire.assistant_message("Done.")], usage=usage(10, 1), model=request.model
        )

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamEvent | ModelResult]:
        """The same answer as item events."""
        result = await self.complete(request)
        for index, item in enumerate(result.output):
            for event in item_events(item, index):
                yield event
        yield result

    async def count_input_tokens(self, request: ModelRequest) -> int:
        """A fixed count (not what these tests look at)."""
        return 10

    async def aclose(self) -> None:
        """Nothing to release."""


def _texts(request: ModelRequest) -> list[str]:
    texts = [request.instructions] if isinstance(request.instructions, str) else []
    texts += [str(tool.get("description") or "") for tool in request.tools]
    for item in request.input:
        kind = item.get("type", "message")
        if kind == "message":
            texts.append(wire.message_text(item))
        elif kind == "function_call_output":
            output = item.get("output")
            texts.append(output if isinstance(output, str) else orjson.dumps(output).decode())
    return texts


def _directives(request: ModelRequest) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for text in _texts(request):
        for match in DIRECTIVE.finditer(text.replace('\\"', '"')):
            found.append((match.group(1), match.group(2)))
    return found


def _canonical(arguments: str) -> str:
    try:
        return orjson.dumps(orjson.loads(arguments), option=orjson.OPT_SORT_KEYS).decode()
    except orjson.JSONDecodeError:
        return arguments


__all__ = ["DIRECTIVE", "HijackedModel", "Item", "directive"]
