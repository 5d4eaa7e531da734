"""Comparing two versions of one JSON Schema: what changed, and in which direction.

:func:`compare_schemas` walks an old and a new schema side by side and records each
difference as a :class:`SchemaChange` with an :class:`~.report.Effect`: did the schema
come to accept fewer values (``NARROWED``), more (``WIDENED``), some more and some fewer
or something that cannot be proven either way (``CHANGED``), or only describe itself
differently (``ANNOTATION``)? The side (input or output) turns an effect into a class in
:func:`~.report.class_of`; only where the *meaning* of a change depends on the side (a
removed property: callers read outputs, so losing one breaks them even though the schema
accepts more) does the walk look at the side itself.

The walk understands the subset tool contracts use: ``type`` (lists, ``integer`` inside
``number``), ``enum``/``const``, numeric, length, item-count and property-count bounds
(``exclusive*`` included), ``pattern``, ``format``, ``multipleOf``, ``uniqueItems``,
objects (``properties``, ``required``, ``additionalProperties``), arrays (``items``,
``prefixItems``), ``anyOf``/``allOf`` (both monotone, so their branches compare one by
one), ``oneOf`` (not monotone: any real change is breaking), nullable unions such as
``anyOf: [X, {"type": "null"}]`` (read as ``X`` plus ``null``), and local ``$ref``
(resolved against each document; recursive schemas stop at the first revisit). Any other
keyword that differs is reported as ``keyword_changed`` and treated as breaking: a change
that cannot be proven compatible is not called compatible.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from pilothouse.control.contracts.report import Effect, Side
from pilothouse.control.contracts.schema_nav import (
    ANNOTATIONS,
    LISTS,
    MAPS,
    SINGLE,
    canonical,
    deref,
    escape,
    json_type,
    normalise,
)

_ALL_TYPES = frozenset({"string", "number", "integer", "boolean", "object", "array", "null"})
_MAX_DEPTH = 64

_BOUNDS = (
    ("range", ("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")),
    ("length", ("minLength", None), ("maxLength", None)),
    ("items_count", ("minItems", None), ("maxItems", None)),
    ("properties_count", ("minProperties", None), ("maxProperties", None)),
)
_HANDLED = frozenset(
    {
        "type",
        "enum",
        "const",
        "pattern",
        "format",
        "multipleOf",
        "uniqueItems",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "prefixItems",
        "anyOf",
        "oneOf",
        "allOf",
        "$defs",
        "definitions",
        "$schema",
        "$id",
        "$anchor",
        *(key for _, low, high in _BOUNDS for key in (*low, *high) if key),
    }
)
_UNION_REASON = (
    "oneOf accepts a value only when exactly one branch matches, so changing, adding or "
    "removing a branch can both admit and reject values; it cannot be proven compatible"
)


@dataclass(frozen=True, slots=True)
class SchemaChange:
    """One difference between two schemas, before a side gives it a class."""

    pointer: str
    kind: str
    effect: Effect
    message: str


def compare_schemas(old: Any, new: Any, *, side: Side) -> list[SchemaChange]:
    """Every difference between ``old`` and ``new`` (whole schema documents).

    Args:
        old: The schema the callers were built against.
        new: The schema they will meet.
        side: ``input`` (callers send values) or ``output`` (callers read them); it only
            decides the few changes whose meaning depends on the direction.

    Returns:
        The changes in walk order, each located by a JSON pointer into the new schema (or
        the old one, for things that were removed).
    """
    walker = _Walker(old, new, side)
    walker.compare(old, new, "", 0)
    return walker.changes


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name.lstrip("$")).lower()


def _short(value: Any) -> str:
    text = canonical(value, annotations=True)
    return text if len(text) <= 60 else text[:57] + "..."


def _declared_types(schema: dict[str, Any]) -> frozenset[str]:
    kind = schema.get("type")
    if isinstance(kind, str):
        types = frozenset({kind})
    elif isinstance(kind, list):
        types = frozenset(k for k in kind if isinstance(k, str))
    else:
        types = _ALL_TYPES
    return types | {"integer"} if "number" in types else types


def _allowed_values(schema: dict[str, Any]) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    enum = schema.get("enum")
    return list(enum) if isinstance(enum, list) else None


def _effective_types(schema: dict[str, Any]) -> frozenset[str]:
    types = _declared_types(schema)
    values = _allowed_values(schema)
    if values is not None:
        implied = {json_type(v) for v in values}
        types &= implied | ({"integer"} if "number" in implied else set())
    return types


def _type_label(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        return "|".join(str(k) for k in kind)
    return str(kind) if kind is not None else "any"


def _accepts_all(schema: Any) -> bool:
    return schema is True or (isinstance(schema, dict) and canonical(schema) == "{}")


def _bound(schema: dict[str, Any], keys: tuple[str, str | None], lower: bool) -> Any:
    """The tightest bound ``(value, exclusive, keyword)`` among ``keys``, or None."""
    found = []
    for keyword, exclusive in zip(keys, (False, True), strict=True):
        value = schema.get(keyword) if keyword else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            found.append((value, exclusive, keyword))
    if not found:
        return None
    return max(found, key=lambda b: (b[0] if lower else -b[0], b[1]))


def _tighter(a: Any, b: Any, lower: bool) -> bool:
    if a[0] != b[0]:
        return bool(a[0] > b[0]) if lower else bool(a[0] < b[0])
    return bool(a[1] and not b[1])


class _Walker:
    """One comparison: both documents (for ``$ref``), the side, and the changes found."""

    def __init__(self, old_root: Any, new_root: Any, side: Side) -> None:
        self.old_root = old_root
        self.new_root = new_root
        self.side = side
        self.changes: list[SchemaChange] = []
        self._active: set[tuple[str | None, str | None]] = set()

    def emit(self, pointer: str, kind: str, effect: Effect, message: str) -> None:
        self.changes.append(SchemaChange(pointer, kind, effect, message))

    def compare(self, old: Any, new: Any, ptr: str, depth: int) -> None:
        """Compare two subschemas at ``ptr``, resolving references on each side."""
        old, old_ref = deref(old, self.old_root)
        new, new_ref = deref(new, self.new_root)
        refs = (old_ref, new_ref)
        if (old_ref or new_ref) and refs in self._active:
            return  # a recursive schema revisiting itself: already being compared
        if depth > _MAX_DEPTH:
            if canonical(old) != canonical(new):
                self.emit(ptr, "not_analysed", Effect.CHANGED, "nested too deeply to compare")
            return
        self._active.add(refs)
        try:
            old = normalise(old, self.old_root)
            new = normalise(new, self.new_root)
            self._nodes(old, new, ptr, depth)
        finally:
            self._active.discard(refs)

    def _nodes(self, old: Any, new: Any, ptr: str, depth: int) -> None:
        if not (isinstance(old, dict) and isinstance(new, dict)):
            self._booleans(old, new, ptr)
            return
        if canonical(old, annotations=True) == canonical(new, annotations=True):
            return
        self._annotations(old, new, ptr)
        if canonical(old) == canonical(new) or self._wrapping(old, new, ptr):
            return
        if self._types(old, new, ptr):
            return  # no value of the old type is accepted: details below would be noise
        self._values(old, new, ptr)
        self._bounds(old, new, ptr)
        self._string_and_number(old, new, ptr)
        self._objects(old, new, ptr, depth)
        self._arrays(old, new, ptr, depth)
        self._unions(old, new, ptr, depth)
        self._unanalysed(old, new, ptr)

    def _booleans(self, old: Any, new: Any, ptr: str) -> None:
        """Boolean schemas: ``true`` (or ``{}``) accepts anything, ``false`` nothing."""
        if canonical(old) == canonical(new) or (_accepts_all(old) and _accepts_all(new)):
            return
        if _accepts_all(old) or new is False:
            self.emit(ptr, "schema_constrained", Effect.NARROWED, "now constrains the value")
        elif _accepts_all(new) or old is False:
            self.emit(ptr, "schema_unconstrained", Effect.WIDENED, "no longer constrained")
        else:
            self.emit(ptr, "schema_changed", Effect.CHANGED, "the schema was replaced")

    def _annotations(self, old: dict[str, Any], new: dict[str, Any], ptr: str) -> None:
        keys = {k for k in (*old, *new) if k in ANNOTATIONS or k.startswith("x-")}
        for key in sorted(keys):
            if canonical(old.get(key), annotations=True) != canonical(
                new.get(key), annotations=True
            ):
                kind = "extension_changed" if key.startswith("x-") else f"{_snake(key)}_changed"
                message = f"{key} {_short(old.get(key))} -> {_short(new.get(key))}"
                self.emit(f"{ptr}/{escape(key)}", kind, Effect.ANNOTATION, message)

    def _wrapping(self, old: dict[str, Any], new: dict[str, Any], ptr: str) -> bool:
        """One side is a union (``anyOf``/``oneOf``) and the other is not."""
        for key in ("anyOf", "oneOf"):
            if (key in old) == (key in new):
                continue
            holder, plain = (new, old) if key in new else (old, new)
            branches = holder[key] if isinstance(holder[key], list) else []
            root = self.new_root if holder is new else self.old_root
            bare = set(holder) - ANNOTATIONS == {key}
            match = bare and any(canonical(deref(b, root)[0]) == canonical(plain) for b in branches)
            name = _snake(key)
            if match and key == "anyOf":
                widened = holder is new
                effect = Effect.WIDENED if widened else Effect.NARROWED
                kind = f"{name}_added" if widened else f"{name}_removed"
                what = "now also accepts" if widened else "no longer accepts"
                self.emit(f"{ptr}/{key}", kind, effect, f"{what} the other anyOf branches")
            else:
                reason = _UNION_REASON if key == "oneOf" else "no branch matches the plain schema"
                self.emit(f"{ptr}/{key}", f"{name}_changed", Effect.CHANGED, reason)
            return True
        return False

    def _types(self, old: dict[str, Any], new: dict[str, Any], ptr: str) -> bool:
        """Report a type change; True when the old and new types share no value."""
        if _declared_types(old) == _declared_types(new):
            return False
        before, after = _effective_types(old), _effective_types(new)
        if before == after:
            return False
        message = f"type {_type_label(old)} -> {_type_label(new)}"
        if after < before:
            self.emit(f"{ptr}/type", "type_narrowed", Effect.NARROWED, message)
        elif after > before:
            self.emit(f"{ptr}/type", "type_widened", Effect.WIDENED, message)
        else:
            self.emit(f"{ptr}/type", "type_changed", Effect.CHANGED, message)
        return not before & after

    def _values(self, old: dict[str, Any], new: dict[str, Any], ptr: str) -> None:
        before, after = _allowed_values(old), _allowed_values(new)
        if before is None and after is None:
            return
        uses_enum = "enum" in old or "enum" in new
        label = "enum" if uses_enum else "const"
        where = f"{ptr}/{label}"
        if before is None:
            self.emit(where, f"{label}_added", Effect.NARROWED, f"values limited to {after}")
            return
        if after is None:
            self.emit(where, f"{label}_removed", Effect.WIDENED, "values no longer limited")
            return
        old_set = {canonical(v, annotations=True): v for v in before}
        new_set = {canonical(v, annotations=True): v for v in after}
        removed = [old_set[k] for k in old_set if k not in new_set]
        added = [new_set[k] for k in new_set if k not in old_set]
        detail = f"removed {removed}" if removed else ""
        detail += ("; " if removed and added else "") + (f"added {added}" if added else "")
        if removed and added:
            kind = "enum_values_changed" if uses_enum else "const_changed"
            self.emit(where, kind, Effect.CHANGED, f"allowed values changed: {detail}")
        elif removed:
            self.emit(where, "enum_values_removed", Effect.NARROWED, f"values {detail}")
        elif added:
            self.emit(where, "enum_values_added", Effect.WIDENED, f"values {detail}")

    def _bounds(self, old: dict[str, Any], new: dict[str, Any], ptr: str) -> None:
        for family, low_keys, high_keys in _BOUNDS:
            for keys, lower in ((low_keys, True), (high_keys, False)):
                before, after = _bound(old, keys, lower), _bound(new, keys, lower)
                if before is None and after is None:
                    continue
                keyword = (after or before)[2]
                end = "lower" if lower else "upper"
                text = f"{end} bound {_bound_text(before)} -> {_bound_text(after)}"
                if after is None or (before is not None and _tighter(before, after, lower)):
                    self.emit(f"{ptr}/{keyword}", f"{family}_widened", Effect.WIDENED, text)
                elif before is None or _tighter(after, before, lower):
                    self.emit(f"{ptr}/{keyword}", f"{family}_narrowed", Effect.NARROWED, text)

    def _string_and_number(self, old: dict[str, Any], new: dict[str, Any], ptr: str) -> None:
        for key in ("pattern", "format"):
            before, after = old.get(key), new.get(key)
            if before == after:
                continue
            where = f"{ptr}/{key}"
            if before is None:
                self.emit(where, f"{key}_added", Effect.NARROWED, f"{key} {after!r} added")
            elif after is None:
                self.emit(where, f"{key}_removed", Effect.WIDENED, f"{key} {before!r} removed")
            else:
                message = f"{key} {before!r} -> {after!r}: neither provably contains the other"
                self.emit(where, f"{key}_changed", Effect.CHANGED, message)
        self._multiple_of(old.get("multipleOf"), new.get("multipleOf"), f"{ptr}/multipleOf")
        if bool(old.get("uniqueItems")) != bool(new.get("uniqueItems")):
            added = bool(new.get("uniqueItems"))
            self.emit(
                f"{ptr}/uniqueItems",
                "unique_items_added" if added else "unique_items_removed",
                Effect.NARROWED if added else Effect.WIDENED,
                "items must now be unique" if added else "items may now repeat",
            )

    def _multiple_of(self, before: Any, after: Any, where: str) -> None:
        if before == after:
            return
        message = f"multipleOf {before} -> {after}"
        if before is None:
            self.emit(where, "multiple_of_added", Effect.NARROWED, message)
        elif after is None:
            self.emit(where, "multiple_of_removed", Effect.WIDENED, message)
        else:
            ratio = Fraction(str(after)) / Fraction(str(before))
            if ratio.denominator == 1:
                self.emit(where, "multiple_of_narrowed", Effect.NARROWED, message)
            elif ratio.numerator == 1:
                self.emit(where, "multiple_of_widened", Effect.WIDENED, message)
            else:
                self.emit(where, "multiple_of_changed", Effect.CHANGED, message)

    def _objects(self, old: dict[str, Any], new: dict[str, Any], ptr: str, depth: int) -> None:
        before = _properties(old)
        after = _properties(new)
        required_before = set(old.get("required") or [])
        required_after = set(new.get("required") or [])
        for name in [n for n in after if n in before]:
            self.compare(before[name], after[name], _prop(ptr, name), depth + 1)
        added = [n for n in after if n not in before]
        removed = [n for n in before if n not in after]
        for name in added:
            self._property_added(name, name in required_after, _prop(ptr, name))
        for name in removed:
            self._property_removed(name, new.get("additionalProperties") is False, ptr)
        for name in sorted(required_after - required_before - set(added) - set(removed)):
            where = _prop(ptr, name) if name in after else f"{ptr}/required"
            self.emit(where, "property_made_required", Effect.NARROWED, f"'{name}' now required")
        for name in sorted(required_before - required_after - set(added) - set(removed)):
            where = _prop(ptr, name) if name in after else f"{ptr}/required"
            self.emit(where, "property_made_optional", Effect.WIDENED, f"'{name}' now optional")
        self._additional(old, new, ptr, depth)

    def _property_added(self, name: str, required: bool, where: str) -> None:
        if required and self.side == "input":
            message = f"'{name}' added as required: callers that omit it are rejected"
            self.emit(where, "required_property_added", Effect.NARROWED, message)
        else:
            state = "required" if required else "optional"
            self.emit(where, "property_added", Effect.ADDED, f"{state} '{name}' added")

    def _property_removed(self, name: str, closed: bool, ptr: str) -> None:
        where = _prop(ptr, name)
        if self.side == "output":
            message = f"'{name}' removed: callers reading it will no longer find it"
            self.emit(where, "property_removed", Effect.CHANGED, message)
        elif closed:
            message = f"'{name}' removed and extra properties are forbidden: senders now fail"
            self.emit(where, "property_removed", Effect.NARROWED, message)
        else:
            message = f"'{name}' removed; extra properties are allowed, so callers sending it pass"
            self.emit(where, "property_removed", Effect.WIDENED, message)

    def _additional(self, old: dict[str, Any], new: dict[str, Any], ptr: str, depth: int) -> None:
        before = old.get("additionalProperties", True)
        after = new.get("additionalProperties", True)
        before = True if _accepts_all(before) else before
        after = True if _accepts_all(after) else after
        where = f"{ptr}/additionalProperties"
        if canonical(before) == canonical(after):
            return
        if isinstance(before, dict) and isinstance(after, dict):
            self.compare(before, after, where, depth + 1)
        elif after is False:
            self.emit(where, "additional_properties_forbidden", Effect.NARROWED, "now forbidden")
        elif before is False:
            self.emit(where, "additional_properties_allowed", Effect.WIDENED, "now allowed")
        elif after is True:
            self.emit(where, "additional_properties_widened", Effect.WIDENED, "any value now")
        else:
            self.emit(where, "additional_properties_narrowed", Effect.NARROWED, "now constrained")

    def _arrays(self, old: dict[str, Any], new: dict[str, Any], ptr: str, depth: int) -> None:
        before, after = old.get("items"), new.get("items")
        if isinstance(before, list) or isinstance(after, list):
            self._sequence(before, after, f"{ptr}/items", depth)
        elif before is not None or after is not None:
            self.compare(
                True if before is None else before,
                True if after is None else after,
                f"{ptr}/items",
                depth + 1,
            )
        self._sequence(old.get("prefixItems"), new.get("prefixItems"), f"{ptr}/prefixItems", depth)

    def _sequence(self, before: Any, after: Any, where: str, depth: int) -> None:
        """Tuple-form item lists compare position by position when their lengths match."""
        if canonical(before) == canonical(after):
            return
        if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
            for index, (one, two) in enumerate(zip(before, after, strict=True)):
                self.compare(one, two, f"{where}/{index}", depth + 1)
        else:
            self.emit(where, "tuple_changed", Effect.CHANGED, "positional items changed shape")

    def _unions(self, old: dict[str, Any], new: dict[str, Any], ptr: str, depth: int) -> None:
        for key in ("anyOf", "allOf", "oneOf"):
            before, after = old.get(key), new.get(key)
            if before is None and after is None:
                continue
            before = before if isinstance(before, list) else []
            after = after if isinstance(after, list) else []
            self._union(key, before, after, f"{ptr}/{key}", depth)

    def _union(self, key: str, before: list[Any], after: list[Any], where: str, depth: int) -> None:
        old_forms = [canonical(deref(b, self.old_root)[0]) for b in before]
        new_forms = [canonical(deref(b, self.new_root)[0]) for b in after]
        old_set, new_set = set(old_forms), set(new_forms)
        name = _snake(key)
        if old_set == new_set:
            if old_forms == new_forms:  # same branches in the same order: annotations only
                self._pairwise(before, after, where, depth)
            return
        if key != "oneOf" and (new_set > old_set or new_set < old_set):
            # anyOf grows with its branches and allOf shrinks: both are monotone.
            more = new_set > old_set
            effect = Effect.WIDENED if more == (key == "anyOf") else Effect.NARROWED
            kind = f"{name}_branches_{'added' if more else 'removed'}"
            self.emit(where, kind, effect, f"{key} branches {'added' if more else 'removed'}")
            return
        if len(before) != len(after):
            reason = _UNION_REASON if key == "oneOf" else f"{key} branches were replaced"
            self.emit(where, f"{name}_changed", Effect.CHANGED, reason)
            return
        mark = len(self.changes)
        self._pairwise(before, after, where, depth)
        found = self.changes[mark:]
        if key == "oneOf" and any(c.effect is not Effect.ANNOTATION for c in found):
            kinds = ", ".join(sorted({c.kind for c in found if c.effect is not Effect.ANNOTATION}))
            del self.changes[mark:]
            self.changes.extend(c for c in found if c.effect is Effect.ANNOTATION)
            self.emit(where, "one_of_changed", Effect.CHANGED, f"{kinds}: {_UNION_REASON}")

    def _pairwise(self, before: list[Any], after: list[Any], where: str, depth: int) -> None:
        for index, (one, two) in enumerate(zip(before, after, strict=True)):
            self.compare(one, two, f"{where}/{index}", depth + 1)

    def _unanalysed(self, old: dict[str, Any], new: dict[str, Any], ptr: str) -> None:
        """Keywords this walk does not model: any difference is reported as breaking."""
        subschema_keys = {*SINGLE, *MAPS, *LISTS}
        for key in sorted(set(old) | set(new)):
            if key in _HANDLED or key in ANNOTATIONS or key.startswith("x-"):
                continue
            exact = key not in subschema_keys
            if canonical(old.get(key), annotations=exact) == canonical(
                new.get(key), annotations=exact
            ):
                continue
            message = (
                f"'{key}' changed ({_short(old.get(key))} -> {_short(new.get(key))}); its "
                "effect on callers is not analysed, so it is treated as breaking"
            )
            self.emit(f"{ptr}/{escape(key)}", "keyword_changed", Effect.CHANGED, message)


def _properties(schema: dict[str, Any]) -> dict[str, Any]:
    found = schema.get("properties")
    return found if isinstance(found, dict) else {}


def _prop(ptr: str, name: str) -> str:
    return f"{ptr}/properties/{escape(name)}"


def _bound_text(bound: Any) -> str:
    return "none" if bound is None else f"{bound[2]} {bound[0]}"
