"""Deterministic example values for JSON Schemas.

The offline model uses this to call tools with arguments valid for their contracts and
to answer in a requested ``json_schema`` format. Values are derived from the schema and
from hints (identifiers and text from the user's message) so that an offline run reads
sensibly: asked to "check ticket INC-24531", it passes ``"INC-24531"`` as the ticket id.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

IDENTIFIER = re.compile(r"\b[A-Z][A-Z0-9]{1,9}-\d{1,9}\b")
_IDENTIFIER_NAME = re.compile(r"(^|_)(id|key|ref|number|ticket|incident|case|issue|order)$")

_FORMATS = {
    "date-time": "2026-01-01T00:00:00Z",
    "date": "2026-01-01",
    "time": "00:00:00Z",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "ipv4": "192.0.2.1",
    "hostname": "example.com",
}


@dataclass(slots=True)
class Hints:
    """Text from the conversation that makes generated values meaningful."""

    text: str = ""
    identifiers: list[str] = field(default_factory=list)

    @classmethod
    def from_text(cls, text: str) -> Hints:
        """Hints drawn from a user's message."""
        return cls(text=text.strip(), identifiers=IDENTIFIER.findall(text))


def example(schema: Any, hints: Hints | None = None, *, name: str = "value") -> Any:
    """A value valid for ``schema`` (a JSON Schema dict); ``name`` is the property name."""
    return _Generator(schema if isinstance(schema, dict) else {}, hints or Hints()).value(
        schema, name, 0
    )


class _Generator:
    def __init__(self, root: dict[str, Any], hints: Hints) -> None:
        self.root = root
        self.hints = hints

    def value(self, schema: Any, name: str, depth: int) -> Any:
        if not isinstance(schema, dict) or depth > 12:
            return None
        if "$ref" in schema:
            return self.value(self._resolve(schema["$ref"]), name, depth + 1)
        if "const" in schema:
            return schema["const"]
        if schema.get("enum"):
            return schema["enum"][0]
        if "default" in schema:
            return schema["default"]
        for key in ("anyOf", "oneOf"):
            if schema.get(key):
                options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
                return self.value(options[0], name, depth + 1)
        if schema.get("allOf"):
            merged: dict[str, Any] = {}
            for part in schema["allOf"]:
                merged.update(part)
            return self.value(merged, name, depth + 1)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind is None:
            kind = "object" if "properties" in schema else "string"
        return getattr(self, f"_{kind}", self._null)(schema, name, depth)

    def _resolve(self, ref: str) -> Any:
        node: Any = self.root
        for part in ref.lstrip("#/").split("/"):
            if not part:
                continue
            node = node.get(part, {}) if isinstance(node, dict) else {}
        return node

    def _object(self, schema: dict[str, Any], name: str, depth: int) -> dict[str, Any]:
        properties = schema.get("properties") or {}
        required = schema.get("required")
        keys = list(properties) if required is None else [k for k in properties if k in required]
        if schema.get("additionalProperties") is False or required is None:
            keys = list(properties)
        return {key: self.value(properties[key], key, depth + 1) for key in keys}

    def _array(self, schema: dict[str, Any], name: str, depth: int) -> list[Any]:
        count = max(1, int(schema.get("minItems", 1)))
        if "maxItems" in schema:
            count = min(count, int(schema["maxItems"]))
        items = schema.get("items") or {}
        return [self.value(items, name, depth + 1) for _ in range(count)]

    def _string(self, schema: dict[str, Any], name: str, depth: int) -> str:
        if schema.get("format") in _FORMATS:
            text = _FORMATS[schema["format"]]
        elif self.hints.identifiers and _IDENTIFIER_NAME.search(name.lower()):
            text = self.hints.identifiers[0]
        elif self.hints.text and name.lower() in ("query", "q", "text", "question", "search"):
            text = self.hints.text
        else:
            text = name
        low = int(schema.get("minLength", 0))
        high = int(schema.get("maxLength", max(len(text), low)))
        if len(text) < low:
            text = text + "x" * (low - len(text))
        return text[:high]

    def _integer(self, schema: dict[str, Any], name: str, depth: int) -> int:
        if "minimum" in schema:
            value = math.ceil(schema["minimum"])
        elif "exclusiveMinimum" in schema:
            value = math.floor(schema["exclusiveMinimum"]) + 1
        else:
            value = 1
        if "maximum" in schema:
            value = min(value, math.floor(schema["maximum"]))
        if "exclusiveMaximum" in schema:
            value = min(value, math.ceil(schema["exclusiveMaximum"]) - 1)
        return int(value)

    def _number(self, schema: dict[str, Any], name: str, depth: int) -> float:
        return float(self._integer(schema, name, depth))

    def _boolean(self, schema: dict[str, Any], name: str, depth: int) -> bool:
        return True

    def _null(self, schema: dict[str, Any], name: str, depth: int) -> None:
        return None
