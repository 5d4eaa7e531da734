"""JSON tool arguments as Cedar values: what converts, how, and what is refused."""

from __future__ import annotations

import math
from typing import Any

import pytest

from pilothouse.control.policy.values import (
    MAX_DEPTH,
    UnrepresentableValue,
    to_cedar,
    to_cedar_record,
)


def decimal(text: str) -> dict[str, Any]:
    return {"__extn": {"fn": "decimal", "arg": text}}


@pytest.mark.parametrize(
    ("value", "cedar"),
    [
        (True, True),
        (False, False),
        (0, 0),
        (-(2**63), -(2**63)),
        (2**63 - 1, 2**63 - 1),
        (2**63, str(2**63)),
        (-(2**64), str(-(2**64))),
        (5.0, 5),
        (-12.0, -12),
        (12.5, decimal("12.5")),
        (-0.0001, decimal("-0.0001")),
        (0.12345, "0.12345"),
        (1e-05, "1e-05"),
        (1e20, "1e+20"),
        (9.3e14 + 0.5, "930000000000000.5"),
        (math.inf, "inf"),
        (math.nan, "nan"),
        ('héllo ; "quoted"', 'héllo ; "quoted"'),
        ([3, 1, 3], [3, 1, 3]),
        (["a", None, "b"], ["a", "b"]),
        ({"a": 1, "b": None}, {"a": 1}),
        ({"nested": {"list": [{"x": 1.5}]}}, {"nested": {"list": [{"x": decimal("1.5")}]}}),
        ((1, 2), [1, 2]),
        ({}, {}),
    ],
)
def test_json_values_convert(value: Any, cedar: Any) -> None:
    assert to_cedar(value) == cedar


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ({"__entity": {"type": "Pilothouse::Tool", "id": "refund"}}, "/__entity"),
        ({"a": [{"__extn": {"fn": "ip", "arg": "10.0.0.1"}}]}, "/a/0/__extn"),
        ({"x/y": {"__expr": "1"}}, "/x~1y/__expr"),
        ({1: "not a string key"}, ""),
        ({"when": object()}, "/when"),
    ],
)
def test_values_cedar_would_misread_are_refused(value: Any, path: str) -> None:
    with pytest.raises(UnrepresentableValue) as caught:
        to_cedar(value)
    assert caught.value.path == path


def test_nesting_is_bounded() -> None:
    deep: Any = "bottom"
    for _ in range(MAX_DEPTH - 1):
        deep = [deep]
    assert to_cedar({"v": deep})["v"]  # MAX_DEPTH levels in all: accepted
    with pytest.raises(UnrepresentableValue, match="deeper than"):
        to_cedar({"v": [deep]})


def test_null_alone_has_no_value() -> None:
    with pytest.raises(UnrepresentableValue):
        to_cedar(None)


def test_a_record_stays_a_record() -> None:
    assert to_cedar_record({"amount_cents": 100, "note": None}) == {"amount_cents": 100}
