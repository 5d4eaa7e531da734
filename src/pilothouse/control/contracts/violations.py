"""Invalid examples: a valid value broken in exactly one place, one constraint at a time.

:func:`violations` walks a schema alongside a value valid for it and, at every node,
proposes copies of the whole value with one constraint of that node broken: a required
property removed, a value of the wrong type, a value outside the enum or off the
``const``, a bound or length crossed, a pattern missed, an array too short or too long,
an unexpected property where ``additionalProperties`` is false. Each proposal says which
keyword it violates and where (a JSON pointer into the value).

Proposals are candidates: :mod:`.fixtures` keeps only those that a validator rejects for
exactly that keyword. Nodes under ``anyOf``/``oneOf``/``not`` are not broken on purpose,
because which branch a broken value falls into cannot be controlled from here. Neither
are ``uniqueItems`` and ``format``: typed bindings do not reliably enforce them (Pydantic
reads a JSON array with repeats into a list, and ``format`` is an annotation by default),
so such a value would test a validator rather than the bindings the fixtures are for.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pilothouse.control.contracts.patterns import matching_string, missing_string
from pilothouse.control.contracts.schema_nav import deref, escape, normalise

_MAX_DEPTH = 16
_UNPREDICTABLE = ("anyOf", "oneOf", "not", "allOf", "if")
#: A value of each JSON type, tried in order when a value of the wrong type is needed.
#: Strings are tried late on purpose: Pydantic would coerce "1" into an int or a date.
_WRONG_TYPES: tuple[tuple[str, Any], ...] = (
    ("string", "wrong type"),
    ("array", ["wrong type"]),
    ("object", {"wrong": "type"}),
    ("integer", 12345),
    ("boolean", True),
)
_NOT_IN_ENUM: tuple[Any, ...] = ("not-an-allowed-value", "NOT_ALLOWED", 987654321, -987654321)


@dataclass(frozen=True, slots=True)
class Violation:
    """A whole value that breaks one constraint at one place.

    Attributes:
        violates: The JSON Schema keyword broken (``required``, ``type``, ``enum``, ...).
        pointer: Where in the value, as a JSON pointer (``""`` for the value itself).
        note: What was done, for people reading a failing contract test.
        value: The complete invalid value.
    """

    violates: str
    pointer: str
    note: str
    value: Any

    @property
    def name(self) -> str:
        """A stable identifier, ``<keyword>:<pointer>``."""
        return f"{self.violates}:{self.pointer or '/'}"

    def to_dict(self) -> dict[str, Any]:
        """The violation as written to a fixture file."""
        return {
            "name": self.name,
            "violates": self.violates,
            "pointer": self.pointer,
            "note": self.note,
            "value": self.value,
        }


def violations(schema: Any, valid: Any) -> list[Violation]:
    """Candidate invalid values derived from ``valid`` (which must satisfy ``schema``)."""
    walker = _Walker(schema, valid)
    found: dict[str, Violation] = {}
    for violation in walker.node(schema, (), valid, 0):
        found.setdefault(violation.name, violation)
    return list(found.values())


class _Walker:
    def __init__(self, root: Any, base: Any) -> None:
        self.root = root
        self.base = base

    def node(
        self, schema: Any, path: tuple[str | int, ...], value: Any, depth: int
    ) -> Iterator[Violation]:
        schema = normalise(deref(schema, self.root)[0], self.root)
        if not isinstance(schema, dict) or depth > _MAX_DEPTH:
            return
        if any(key in schema for key in _UNPREDICTABLE) or "$ref" in schema:
            return
        yield from self._type(schema, path)
        yield from self._values(schema, path)
        if isinstance(value, str):
            yield from self._strings(schema, path, value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            yield from self._numbers(schema, path, value)
        if isinstance(value, list):
            yield from self._arrays(schema, path, value, depth)
        if isinstance(value, dict):
            yield from self._objects(schema, path, value, depth)

    def replaced(self, path: tuple[str | int, ...], new: Any) -> Any:
        """A deep copy of the base value with the node at ``path`` replaced by ``new``."""
        if not path:
            return copy.deepcopy(new)
        whole = copy.deepcopy(self.base)
        parent = whole
        for step in path[:-1]:
            parent = parent[step]
        parent[path[-1]] = copy.deepcopy(new)
        return whole

    def removed(self, path: tuple[str | int, ...]) -> Any:
        """A deep copy of the base value without the property at ``path``."""
        whole = copy.deepcopy(self.base)
        parent = whole
        for step in path[:-1]:
            parent = parent[step]
        del parent[path[-1]]
        return whole

    def make(self, keyword: str, path: tuple[str | int, ...], note: str, value: Any) -> Violation:
        return Violation(keyword, _pointer(path), note, value)

    def _type(self, schema: dict[str, Any], path: tuple[str | int, ...]) -> Iterator[Violation]:
        declared = schema.get("type")
        if declared is None:
            return
        allowed = {declared} if isinstance(declared, str) else set(declared)
        if "number" in allowed:
            allowed.add("integer")
        for kind, wrong in _WRONG_TYPES:
            if kind not in allowed:
                shown = declared if isinstance(declared, str) else "|".join(map(str, declared))
                note = f"{_article(kind)} where the schema allows {shown}"
                yield self.make("type", path, note, self.replaced(path, wrong))
                return

    def _values(self, schema: dict[str, Any], path: tuple[str | int, ...]) -> Iterator[Violation]:
        if "const" in schema:
            options, keyword = [schema["const"]], "const"
        elif isinstance(schema.get("enum"), list):
            options, keyword = schema["enum"], "enum"
        else:
            return
        for candidate in _NOT_IN_ENUM:
            if candidate not in options:
                note = f"{candidate!r} is not one of {options}"
                yield self.make(keyword, path, note, self.replaced(path, candidate))
                return

    def _strings(
        self, schema: dict[str, Any], path: tuple[str | int, ...], value: str
    ) -> Iterator[Violation]:
        pattern = schema.get("pattern")
        low, high = schema.get("minLength"), schema.get("maxLength")
        if isinstance(low, int) and low > 0:
            short = matching_string(pattern, 0, low - 1) if pattern else value[: low - 1]
            if short is not None:
                note = f"{len(short)} characters, fewer than minLength {low}"
                yield self.make("minLength", path, note, self.replaced(path, short))
        if isinstance(high, int):
            long = value + (value[-1:] or "x") * (high + 1 - len(value))
            note = f"{len(long)} characters, more than maxLength {high}"
            yield self.make("maxLength", path, note, self.replaced(path, long))
        if isinstance(pattern, str):
            miss = missing_string(pattern, low if isinstance(low, int) else 0, high)
            if miss is not None:
                note = f"{miss!r} does not match {pattern!r}"
                yield self.make("pattern", path, note, self.replaced(path, miss))

    def _numbers(
        self, schema: dict[str, Any], path: tuple[str | int, ...], value: float
    ) -> Iterator[Violation]:
        integral = schema.get("type") == "integer" or isinstance(value, int)
        for keyword in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
            bound = schema.get(keyword)
            if isinstance(bound, int | float) and not isinstance(bound, bool):
                wrong = _outside(keyword, bound, integral)
                note = f"{wrong} is outside {keyword} {bound}"
                yield self.make(keyword, path, note, self.replaced(path, wrong))
        step = schema.get("multipleOf")
        if isinstance(step, int | float) and not isinstance(step, bool) and step != 1:
            wrong = value + (1 if integral else step / 2)
            note = f"{wrong} is not a multiple of {step}"
            yield self.make("multipleOf", path, note, self.replaced(path, wrong))

    def _arrays(
        self, schema: dict[str, Any], path: tuple[str | int, ...], value: list[Any], depth: int
    ) -> Iterator[Violation]:
        low, high = schema.get("minItems"), schema.get("maxItems")
        if isinstance(low, int) and low > 0:
            note = f"{low - 1} items, fewer than minItems {low}"
            yield self.make("minItems", path, note, self.replaced(path, value[: low - 1]))
        if value and isinstance(high, int):
            longer = value + [value[-1]] * (high + 1 - len(value))
            note = f"{len(longer)} items, more than maxItems {high}"
            yield self.make("maxItems", path, note, self.replaced(path, longer))
        items = schema.get("items")
        if value and isinstance(items, dict):
            yield from self.node(items, (*path, 0), value[0], depth + 1)

    def _objects(
        self, schema: dict[str, Any], path: tuple[str | int, ...], value: dict[str, Any], depth: int
    ) -> Iterator[Violation]:
        for name in schema.get("required") or []:
            if name in value:
                note = f"required property {name!r} missing"
                yield self.make("required", (*path, name), note, self.removed((*path, name)))
        properties = schema.get("properties")
        if schema.get("additionalProperties") is False:
            extra = "unexpected_property"
            if not (isinstance(properties, dict) and extra in properties):
                note = f"property {extra!r} is not declared and additionalProperties is false"
                yield self.make(
                    "additionalProperties", (*path, extra), note, self.replaced((*path, extra), "x")
                )
        if isinstance(properties, dict):
            for name, sub in properties.items():
                if name in value:
                    yield from self.node(sub, (*path, name), value[name], depth + 1)


def _outside(keyword: str, bound: float, integral: bool) -> float:
    """The nearest value past ``bound`` (an integer when the schema wants integers)."""
    lower = keyword.endswith("inimum")
    step = 0 if keyword.startswith("exclusive") else 1
    edge = bound - step if lower else bound + step
    if integral:
        return math.floor(edge) if lower else math.ceil(edge)
    return edge


def _article(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _pointer(path: tuple[str | int, ...]) -> str:
    return "".join("/" + escape(str(step)) for step in path)
