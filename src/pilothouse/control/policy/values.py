"""JSON values (tool arguments) as Cedar values, with the limits that conversion has.

Cedar's value types are Bool, Long (signed 64-bit), String, Set, Record, entity
references and extension values (``decimal``, ``ipaddr``, ...). JSON maps onto them
like this:

=====================  =========================================================
JSON                   Cedar
=====================  =========================================================
``true``/``false``     Bool
integer                Long, when it fits in 64 bits; otherwise its decimal digits
                       as a String (a numeric comparison on it is then a type error)
float, integral        Long (``5.0`` is ``5``, as JSON Schema's ``integer`` agrees)
float, other           ``decimal`` when exact with at most 4 fractional digits and
                       within ±922337203685477; otherwise its shortest ``repr`` as a
                       String (NaN and infinities too). Compare with
                       ``.greaterThan(decimal("12.5"))`` and friends.
string                 String
array                  Set: order and duplicates are lost, ``null`` items dropped;
                       ``contains``/``containsAll``/``containsAny`` work as expected
object                 Record; a ``null`` member is left out (so ``has`` is false)
``null`` (top level)   not representable
=====================  =========================================================

Money and other exact quantities belong in integer minor units in tool contracts
(``amount_cents``, ``cost_usd_micros``); floats are only approximately representable.

Security: Cedar's JSON format gives objects with the keys ``__entity``, ``__extn`` and
``__expr`` a special meaning (an entity reference, an extension value). A model-chosen
argument shaped like that could smuggle in ``Tool::"x"`` where a policy expects a string,
so such keys are refused (:class:`UnrepresentableValue`), as is nesting deeper than
:data:`MAX_DEPTH`; the engine turns that refusal into a denial.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

MAX_DEPTH = 32
"""Deepest nesting of arrays and objects accepted in arguments."""

RESERVED_KEYS = frozenset({"__entity", "__extn", "__expr"})

_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1
_DECIMAL_LIMIT = 922_337_203_685_477
_DECIMAL_PLACES = 4


class UnrepresentableValue(ValueError):
    """A JSON value that cannot be given to Cedar faithfully.

    Attributes:
        path: Where in the value, as a JSON pointer (``/items/0/__entity``).
    """

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path or '/'}: {message}")
        self.path = path


def to_cedar_record(value: Mapping[str, Any]) -> dict[str, Any]:
    """``value`` (a JSON object) as a Cedar record in Cedar's JSON format."""
    converted = to_cedar(value)
    assert isinstance(converted, dict)  # a mapping converts to a record
    return converted


def to_cedar(value: Any) -> Any:
    """Any JSON value as Cedar JSON; raise :class:`UnrepresentableValue` when it has none."""
    if value is None:
        raise UnrepresentableValue("", "null has no Cedar value")
    try:
        return _convert(value, 0)
    except _Refused as refused:
        path = "".join(f"/{_escape(str(part))}" for part in reversed(refused.where))
        raise UnrepresentableValue(path, refused.message) from None


class _Refused(Exception):
    """Raised deep in a value; each level on the way out adds its key to ``where`` (so the
    common path, nothing refused, builds no paths at all)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.where: list[str | int] = []


def _convert(value: Any, depth: int) -> Any:
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value if _LONG_MIN <= value <= _LONG_MAX else str(value)
    if isinstance(value, float):
        return _number(value)
    if depth >= MAX_DEPTH:
        raise _Refused(f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, Mapping):
        return _record(value, depth)
    if isinstance(value, list | tuple | set | frozenset):
        return _items(value, depth)
    raise _Refused(f"{type(value).__name__} is not a JSON value")


def _items(value: Iterable[Any], depth: int) -> list[Any]:
    converted: list[Any] = []
    for index, item in enumerate(value):
        if item is None:
            continue
        try:
            converted.append(_convert(item, depth + 1))
        except _Refused as refused:
            refused.where.append(index)
            raise
    return converted


def _record(value: Mapping[Any, Any], depth: int) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise _Refused(f"key {key!r} is not a string")
        try:
            if key in RESERVED_KEYS:
                raise _Refused(f"'{key}' is reserved by Cedar's JSON format")
            if item is not None:
                record[key] = _convert(item, depth + 1)
        except _Refused as refused:
            refused.where.append(key)
            raise
    return record


def _number(value: float) -> Any:
    if not math.isfinite(value):
        return repr(value)
    if value.is_integer() and _LONG_MIN <= value <= _LONG_MAX:
        return int(value)
    text = repr(value)
    if "e" in text or "E" in text or abs(value) >= _DECIMAL_LIMIT:
        return text
    fraction = text.partition(".")[2]
    if len(fraction) > _DECIMAL_PLACES:
        return text
    return {"__extn": {"fn": "decimal", "arg": text}}


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")
