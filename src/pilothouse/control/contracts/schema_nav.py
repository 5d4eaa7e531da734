"""Navigating JSON Schemas: local ``$ref`` resolution, subschema traversal, canonical forms.

The diff, the fixture generator and the C# emitter all walk the same JSON Schema subset
that tool contracts use, so the mechanics live here once: resolving ``#/$defs/...``
references against the document they belong to, visiting or rewriting every subschema,
and a canonical text form (annotations stripped) that tells whether two schemas accept
the same values. Nothing here decides what a change *means*; that is :mod:`.schema_diff`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

#: Keywords that describe a schema without changing what it accepts.
ANNOTATIONS = frozenset(
    {
        "title",
        "description",
        "default",
        "examples",
        "deprecated",
        "readOnly",
        "writeOnly",
        "$comment",
    }
)

#: Keywords that hold one subschema.
SINGLE = (
    "items",
    "additionalProperties",
    "additionalItems",
    "contains",
    "not",
    "if",
    "then",
    "else",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
)
#: Keywords that map names to subschemas.
MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
#: Keywords that hold a list of subschemas.
LISTS = ("allOf", "anyOf", "oneOf", "prefixItems", "items")

_MAX_REF_HOPS = 32
_CONTEXTUAL = frozenset(
    {"additionalProperties", "unevaluatedProperties", "unevaluatedItems", "$defs", "$ref"}
)


def escape(token: str) -> str:
    """A JSON pointer reference token for ``token`` (RFC 6901: ``~`` and ``/`` escaped)."""
    return token.replace("~", "~0").replace("/", "~1")


def pointer(*tokens: str | int) -> str:
    """A JSON pointer built from raw tokens, e.g. ``pointer("properties", "a/b")``."""
    return "".join("/" + escape(str(token)) for token in tokens)


def resolve_ref(root: Any, ref: str) -> Any | None:
    """The node ``ref`` points at inside ``root``, or None for external or dangling refs.

    Only same-document references (``#``, ``#/$defs/Name``, any ``#/json/pointer``) are
    resolved: a contract is one self-contained file, and anything else cannot be compared
    without fetching it, which a pure function must not do.
    """
    if not ref.startswith("#"):
        return None
    node = root
    path = ref[1:]
    if not path:
        return node
    if not path.startswith("/"):
        return None
    for raw in path[1:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return None
    return node


def deref(schema: Any, root: Any) -> tuple[Any, str | None]:
    """Follow ``$ref`` chains in ``schema`` and return ``(resolved, first_ref)``.

    Keywords beside a ``$ref`` (2020-12 allows them) are laid over the target, so a
    ``{"$ref": ..., "description": ...}`` keeps its local description. A reference that
    cannot be resolved, or a chain longer than a sane bound (a cycle of bare refs), is
    returned as it is so that callers compare it as an opaque value.
    """
    first: str | None = None
    hops = 0
    while isinstance(schema, dict) and isinstance(schema.get("$ref"), str):
        target = resolve_ref(root, schema["$ref"])
        if target is None or hops >= _MAX_REF_HOPS:
            return schema, first
        first = first or schema["$ref"]
        siblings = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**target, **siblings} if isinstance(target, dict) and siblings else target
        hops += 1
    return schema, first


def transform(schema: Any, edit: Callable[[dict[str, Any]], dict[str, Any]]) -> Any:
    """A copy of ``schema`` with ``edit`` applied to every object subschema, bottom-up.

    ``edit`` receives a fresh dict whose subschemas are already transformed and returns
    the node to keep; the input is never mutated.
    """
    if not isinstance(schema, dict):
        return schema
    node = dict(schema)
    for key in SINGLE:
        if isinstance(node.get(key), dict):
            node[key] = transform(node[key], edit)
    for key in MAPS:
        if isinstance(node.get(key), dict):
            node[key] = {name: transform(sub, edit) for name, sub in node[key].items()}
    for key in LISTS:
        if isinstance(node.get(key), list):
            node[key] = [transform(sub, edit) for sub in node[key]]
    return edit(node)


def strip_annotations(schema: Any) -> Any:
    """``schema`` without annotation keywords at any depth (``properties`` names are kept)."""

    def edit(node: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in node.items() if k not in ANNOTATIONS and not k.startswith("x-")}

    return transform(schema, edit)


def canonical(value: Any, *, annotations: bool = False) -> str:
    """A stable text form: equal strings mean equal schemas (annotations ignored by default)."""
    subject = value if annotations else strip_annotations(value)
    return json.dumps(subject, sort_keys=True, separators=(",", ":"), default=str)


def json_type(value: Any) -> str:
    """The JSON Schema type name of a JSON value (``true`` is a boolean, not an integer)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _is_null_schema(schema: Any) -> bool:
    return isinstance(schema, dict) and canonical(schema) == '{"type":"null"}'


def _nullable(branch: dict[str, Any]) -> dict[str, Any]:
    """``branch`` widened to accept ``null`` (the meaning of ``anyOf: [branch, null]``)."""
    merged = dict(branch)
    kind = merged.get("type")
    if isinstance(kind, str) and kind != "null":
        merged["type"] = [kind, "null"]
    elif isinstance(kind, list) and "null" not in kind:
        merged["type"] = [*kind, "null"]
    if "const" in merged:
        merged["enum"] = [merged.pop("const")]
    if isinstance(merged.get("enum"), list) and None not in merged["enum"]:
        merged["enum"] = [*merged["enum"], None]
    return merged


def normalise(schema: Any, root: Any) -> Any:
    """Rewrite spellings with one meaning into one form before comparing.

    ``anyOf``/``oneOf`` of a schema and ``{"type": "null"}`` becomes that schema made
    nullable, and an ``allOf`` whose parts constrain different keywords is folded into
    its holder (``allOf: [{"$ref": ...}]`` beside a description is the common case).
    Pydantic and many generators emit these forms; without this, a schema regenerated by
    another tool would look changed.
    """
    if not isinstance(schema, dict):
        return schema
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if not (isinstance(branches, list) and len(branches) == 2):
            continue
        resolved = [deref(b, root)[0] for b in branches]
        others = [b for b in resolved if not _is_null_schema(b)]
        single = others[0] if len(others) == 1 else None
        if isinstance(single, dict) and not any(k in single for k in ("anyOf", "oneOf", "allOf")):
            siblings = {k: v for k, v in schema.items() if k != key}
            return {**_nullable(single), **siblings}
    return _merge_all_of(schema, root)


def _merge_all_of(schema: dict[str, Any], root: Any) -> dict[str, Any]:
    """``allOf`` folded into its holder when its parts constrain disjoint keywords.

    Keywords of a schema apply independently, so conjuncts that share no keyword mean the
    same as one schema holding all of them; ``additionalProperties`` and the
    ``unevaluated*`` keywords look at their siblings, so parts using them stay apart.
    """
    parts = schema.get("allOf")
    if not isinstance(parts, list) or not parts:
        return schema
    resolved = [deref(part, root)[0] for part in parts]
    merged = {k: v for k, v in schema.items() if k != "allOf"}
    if set(merged) & _CONTEXTUAL:
        return schema
    for part in resolved:
        if not isinstance(part, dict) or set(part) & _CONTEXTUAL:
            return schema
        constraints = set(part) - ANNOTATIONS
        if constraints & (set(merged) - ANNOTATIONS):
            return schema
        merged.update({k: v for k, v in part.items() if k not in merged})
    return merged
