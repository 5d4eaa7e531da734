"""The diff table: one schema change per row, with the class each side must give it.

Each row compares an old and a new schema on one side (``input``: callers send values,
``output``: callers read them) and pins the exact changes reported: pointer, kind and
class. Exact lists, not "contains", so that noise (a second, spurious change) fails too.
"""

from __future__ import annotations

from typing import Any

import pytest

from pilothouse.control.contracts import classify
from pilothouse.control.contracts.report import Side

B, C, N = "breaking", "compatible", "info"


def obj(props: dict[str, Any], required: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": list(required), **extra}


STR = {"type": "string"}
INT = {"type": "integer"}
STATUS = {"type": "string", "enum": ["open", "closed"]}
ADDRESS = obj({"street": STR, "zip": STR}, ("street",))
CLOSED = {"additionalProperties": False}


def with_defs(address: dict[str, Any], **props: Any) -> dict[str, Any]:
    schema = obj({"address": {"$ref": "#/$defs/Address"}, **props}, ("address",))
    return {**schema, "$defs": {"Address": address}}


Row = tuple[str, Side, Any, Any, list[tuple[str, str, str]]]

TABLE: list[Row] = [
    # -- properties ------------------------------------------------------------------------
    (
        "optional input added",
        "input",
        obj({"q": STR}),
        obj({"q": STR, "n": INT}),
        [("/properties/n", "property_added", C)],
    ),
    (
        "required input added",
        "input",
        obj({"q": STR}),
        obj({"q": STR, "n": INT}, ("n",)),
        [("/properties/n", "required_property_added", B)],
    ),
    (
        "required output added",
        "output",
        obj({"q": STR}),
        obj({"q": STR, "n": INT}, ("n",)),
        [("/properties/n", "property_added", C)],
    ),
    (
        "output property removed",
        "output",
        obj({"q": STR, "n": INT}),
        obj({"q": STR}),
        [("/properties/n", "property_removed", B)],
    ),
    (
        "input removed, closed",
        "input",
        obj({"q": STR, "n": INT}, **CLOSED),
        obj({"q": STR}, **CLOSED),
        [("/properties/n", "property_removed", B)],
    ),
    (
        "input removed, open",
        "input",
        obj({"q": STR, "n": INT}),
        obj({"q": STR}),
        [("/properties/n", "property_removed", C)],
    ),
    (
        "input made required",
        "input",
        obj({"q": STR}),
        obj({"q": STR}, ("q",)),
        [("/properties/q", "property_made_required", B)],
    ),
    (
        "input made optional",
        "input",
        obj({"q": STR}, ("q",)),
        obj({"q": STR}),
        [("/properties/q", "property_made_optional", C)],
    ),
    (
        "output made optional",
        "output",
        obj({"q": STR}, ("q",)),
        obj({"q": STR}),
        [("/properties/q", "property_made_optional", B)],
    ),
    (
        "output made required",
        "output",
        obj({"q": STR}),
        obj({"q": STR}, ("q",)),
        [("/properties/q", "property_made_required", C)],
    ),
    (
        "input extras forbidden",
        "input",
        obj({"q": STR}),
        obj({"q": STR}, **CLOSED),
        [("/additionalProperties", "additional_properties_forbidden", B)],
    ),
    (
        "output extras allowed",
        "output",
        obj({"q": STR}, **CLOSED),
        obj({"q": STR}),
        [("/additionalProperties", "additional_properties_allowed", B)],
    ),
    (
        "output extras forbidden",
        "output",
        obj({"q": STR}),
        obj({"q": STR}, **CLOSED),
        [("/additionalProperties", "additional_properties_forbidden", C)],
    ),
    # -- types -----------------------------------------------------------------------------
    ("input type changed", "input", STR, INT, [("/type", "type_changed", B)]),
    ("output type changed", "output", STR, INT, [("/type", "type_changed", B)]),
    ("input integer to number", "input", INT, {"type": "number"}, [("/type", "type_widened", C)]),
    ("output integer to number", "output", INT, {"type": "number"}, [("/type", "type_widened", B)]),
    ("input number to integer", "input", {"type": "number"}, INT, [("/type", "type_narrowed", B)]),
    (
        "output number to integer",
        "output",
        {"type": "number"},
        INT,
        [("/type", "type_narrowed", C)],
    ),
    (
        "input made nullable",
        "input",
        STR,
        {"type": ["string", "null"]},
        [("/type", "type_widened", C)],
    ),
    (
        "output nullable via anyOf",
        "output",
        STR,
        {"anyOf": [STR, {"type": "null"}]},
        [("/type", "type_widened", B)],
    ),
    (
        "input nullability removed",
        "input",
        {"type": ["string", "null"]},
        STR,
        [("/type", "type_narrowed", B)],
    ),
    (
        "type spelled for an enum",
        "input",
        {"enum": ["a", "b"]},
        {"type": "string", "enum": ["a", "b"]},
        [],
    ),
    # -- enum and const --------------------------------------------------------------------
    (
        "input enum value removed",
        "input",
        STATUS,
        {**STATUS, "enum": ["open"]},
        [("/enum", "enum_values_removed", B)],
    ),
    (
        "output enum value removed",
        "output",
        STATUS,
        {**STATUS, "enum": ["open"]},
        [("/enum", "enum_values_removed", C)],
    ),
    (
        "input enum widened",
        "input",
        STATUS,
        {**STATUS, "enum": ["open", "closed", "held"]},
        [("/enum", "enum_values_added", C)],
    ),
    (
        "output enum widened",
        "output",
        STATUS,
        {**STATUS, "enum": ["open", "closed", "held"]},
        [("/enum", "enum_values_added", B)],
    ),
    (
        "enum values swapped",
        "input",
        STATUS,
        {**STATUS, "enum": ["open", "held"]},
        [("/enum", "enum_values_changed", B)],
    ),
    ("enum reordered", "output", STATUS, {**STATUS, "enum": ["closed", "open"]}, []),
    ("input enum introduced", "input", STR, STATUS, [("/enum", "enum_added", B)]),
    ("output enum dropped", "output", STATUS, STR, [("/enum", "enum_removed", B)]),
    ("const changed", "input", {"const": "v1"}, {"const": "v2"}, [("/const", "const_changed", B)]),
    (
        "const to enum",
        "input",
        {"const": "v1"},
        {"enum": ["v1", "v2"]},
        [("/enum", "enum_values_added", C)],
    ),
    # -- bounds, pattern, format -----------------------------------------------------------
    (
        "input maximum lowered",
        "input",
        {**INT, "maximum": 10},
        {**INT, "maximum": 5},
        [("/maximum", "range_narrowed", B)],
    ),
    (
        "input minimum lowered",
        "input",
        {**INT, "minimum": 1},
        {**INT, "minimum": 0},
        [("/minimum", "range_widened", C)],
    ),
    (
        "minimum made exclusive",
        "input",
        {**INT, "minimum": 1},
        {**INT, "exclusiveMinimum": 1},
        [("/exclusiveMinimum", "range_narrowed", B)],
    ),
    (
        "output minimum made exclusive",
        "output",
        {**INT, "minimum": 1},
        {**INT, "exclusiveMinimum": 1},
        [("/exclusiveMinimum", "range_narrowed", C)],
    ),
    (
        "output maximum dropped",
        "output",
        {**INT, "maximum": 9},
        INT,
        [("/maximum", "range_widened", B)],
    ),
    (
        "input minLength raised",
        "input",
        {**STR, "minLength": 1},
        {**STR, "minLength": 3},
        [("/minLength", "length_narrowed", B)],
    ),
    (
        "output maxLength lowered",
        "output",
        {**STR, "maxLength": 9},
        {**STR, "maxLength": 5},
        [("/maxLength", "length_narrowed", C)],
    ),
    (
        "input pattern added",
        "input",
        STR,
        {**STR, "pattern": "^[A-Z]+$"},
        [("/pattern", "pattern_added", B)],
    ),
    (
        "input pattern changed",
        "input",
        {**STR, "pattern": "^a"},
        {**STR, "pattern": "^b"},
        [("/pattern", "pattern_changed", B)],
    ),
    (
        "output pattern removed",
        "output",
        {**STR, "pattern": "^a"},
        STR,
        [("/pattern", "pattern_removed", B)],
    ),
    (
        "input format removed",
        "input",
        {**STR, "format": "date"},
        STR,
        [("/format", "format_removed", C)],
    ),
    (
        "output format changed",
        "output",
        {**STR, "format": "date"},
        {**STR, "format": "date-time"},
        [("/format", "format_changed", B)],
    ),
    (
        "input multipleOf tightened",
        "input",
        {**INT, "multipleOf": 2},
        {**INT, "multipleOf": 4},
        [("/multipleOf", "multiple_of_narrowed", B)],
    ),
    # -- arrays ----------------------------------------------------------------------------
    (
        "input item enum narrowed",
        "input",
        obj({"tags": {"type": "array", "items": STATUS}}),
        obj({"tags": {"type": "array", "items": {**STATUS, "enum": ["open"]}}}),
        [("/properties/tags/items/enum", "enum_values_removed", B)],
    ),
    (
        "output maxItems added",
        "output",
        {"type": "array", "items": STR},
        {"type": "array", "items": STR, "maxItems": 3},
        [("/maxItems", "items_count_narrowed", C)],
    ),
    (
        "input uniqueItems added",
        "input",
        {"type": "array"},
        {"type": "array", "uniqueItems": True},
        [("/uniqueItems", "unique_items_added", B)],
    ),
    (
        "output items widened",
        "output",
        {"type": "array", "items": INT},
        {"type": "array", "items": {"type": "number"}},
        [("/items/type", "type_widened", B)],
    ),
    # -- nested objects and $ref -----------------------------------------------------------
    (
        "nested input type changed",
        "input",
        obj({"address": ADDRESS}),
        obj({"address": obj({"street": STR, "zip": INT}, ("street",))}),
        [("/properties/address/properties/zip/type", "type_changed", B)],
    ),
    (
        "nested output property removed",
        "output",
        obj({"address": ADDRESS}),
        obj({"address": obj({"street": STR}, ("street",))}),
        [("/properties/address/properties/zip", "property_removed", B)],
    ),
    (
        "$ref target gains a required input",
        "input",
        with_defs(ADDRESS),
        with_defs(obj({"street": STR, "zip": STR, "country": STR}, ("street", "country"))),
        [("/properties/address/properties/country", "required_property_added", B)],
    ),
    (
        "$ref target enum widened on output",
        "output",
        with_defs(obj({"kind": STATUS})),
        with_defs(obj({"kind": {**STATUS, "enum": ["open", "closed", "held"]}})),
        [("/properties/address/properties/kind/enum", "enum_values_added", B)],
    ),
    (
        "inline moved behind $ref",
        "input",
        obj({"address": ADDRESS}, ("address",)),
        with_defs(ADDRESS),
        [],
    ),
    (
        "recursive $ref change",
        "input",
        {"$defs": {"N": obj({"v": INT, "next": {"$ref": "#/$defs/N"}})}, "$ref": "#/$defs/N"},
        {"$defs": {"N": obj({"v": STR, "next": {"$ref": "#/$defs/N"}})}, "$ref": "#/$defs/N"},
        [("/properties/v/type", "type_changed", B)],
    ),
    # -- unions ----------------------------------------------------------------------------
    (
        "input anyOf branch added",
        "input",
        {"anyOf": [STR, INT]},
        {"anyOf": [STR, INT, {"type": "boolean"}]},
        [("/anyOf", "any_of_branches_added", C)],
    ),
    (
        "output anyOf branch added",
        "output",
        {"anyOf": [STR, INT]},
        {"anyOf": [STR, INT, {"type": "boolean"}]},
        [("/anyOf", "any_of_branches_added", B)],
    ),
    (
        "output anyOf branch narrowed",
        "output",
        {"anyOf": [STR, INT]},
        {"anyOf": [STR, {**INT, "minimum": 0}]},
        [("/anyOf/1/minimum", "range_narrowed", C)],
    ),
    (
        "input oneOf branch added",
        "input",
        {"oneOf": [STR, INT]},
        {"oneOf": [STR, INT, {"type": "boolean"}]},
        [("/oneOf", "one_of_changed", B)],
    ),
    (
        "output oneOf branch narrowed",
        "output",
        {"oneOf": [STR, INT]},
        {"oneOf": [STR, {**INT, "minimum": 0}]},
        [("/oneOf", "one_of_changed", B)],
    ),
    (
        "input allOf folded",
        "input",
        {"allOf": [STR]},
        {"allOf": [STR, {"maxLength": 3}]},
        [("/maxLength", "length_narrowed", B)],
    ),
    (
        "input allOf conjunct added",
        "input",
        {"allOf": [obj({"a": STR}), obj({"b": INT})]},
        {"allOf": [obj({"a": STR}), obj({"b": INT}), {"required": ["a"]}]},
        [("/allOf", "all_of_branches_added", B)],
    ),
    (
        "output allOf conjunct removed",
        "output",
        {"allOf": [obj({"a": STR}), obj({"b": INT}), {"required": ["a"]}]},
        {"allOf": [obj({"a": STR}), obj({"b": INT})]},
        [("/allOf", "all_of_branches_removed", B)],
    ),
    (
        "input wrapped in anyOf",
        "input",
        STR,
        {"anyOf": [STR, INT]},
        [("/anyOf", "any_of_added", C)],
    ),
    # -- annotations and unanalysed keywords -----------------------------------------------
    (
        "description changed",
        "output",
        {**STR, "description": "a"},
        {**STR, "description": "b"},
        [("/description", "description_changed", N)],
    ),
    (
        "default changed",
        "input",
        {**INT, "default": 1},
        {**INT, "default": 2},
        [("/default", "default_changed", N)],
    ),
    (
        "unanalysed keyword changed",
        "input",
        obj({}, patternProperties={"^x": STR}),
        obj({}, patternProperties={"^x": INT}),
        [("/patternProperties", "keyword_changed", B)],
    ),
    ("unchanged", "input", with_defs(ADDRESS), with_defs(ADDRESS), []),
]


@pytest.mark.parametrize(
    ("side", "old", "new", "expected"),
    [row[1:] for row in TABLE],
    ids=[row[0] for row in TABLE],
)
def test_change_is_classified(
    side: Side, old: Any, new: Any, expected: list[tuple[str, str, str]]
) -> None:
    changes = classify(old, new, side=side, tool="t")
    assert [(c.pointer, c.kind, c.change_class.value) for c in changes] == expected
    assert all(c.tool == "t" and c.side == side and c.message for c in changes)


def test_table_is_large_and_covers_both_sides() -> None:
    sides = {row[1] for row in TABLE}
    classes = {cls for row in TABLE for _, _, cls in row[4]}
    assert len(TABLE) >= 25
    assert sides == {"input", "output"}
    assert classes == {B, C, N}
