"""The compiled redactor (``make native``): the same answers as the pure Python class, and
used only when it was built from the source in the tree."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pilothouse.observability.redaction import (
    DataClass,
    RedactionMode,
    RedactionPolicy,
    Redactor,
    SecretsRegistry,
)
from pilothouse.observability.redaction import redactor as module

COMPILED = module._compiled()
needs_build = pytest.mark.skipif(
    COMPILED is None,
    reason="the compiled redactor is not in use (make native; PILOTHOUSE_PURE_PYTHON unset)",
)

SECRET = "pilothouse-canary-secret-42"
HASH_KEY = "test-hash-key-0123456789abcdef"
PIECES = [
    "jane@example.com",
    "+44 20 7946 0958",
    "(415) 555-2671",
    "4111 1111 1111 1111",
    "DE89 3704 0044 0532 0130 00",
    "AKIAIOSFODNN7EXAMPLE",
    "sk-proj-" + "a1B2" * 10,
    SECRET,
    "resp_6745c1f0" + "ab" * 20,
    "[REDACTED:email]",
    "plain words",
    "12345",
    "",
    "\n",
]
texts = st.lists(st.sampled_from(PIECES) | st.text(max_size=12), max_size=6).map(" ".join)
keys = st.sampled_from(["api_key", "Authorization", "password", "note", "id", "x-api-key"]) | texts
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.dictionaries(keys, children, max_size=4)
    ),
    max_leaves=25,
)
policies = st.sampled_from(
    [
        RedactionPolicy(),
        RedactionPolicy(
            modes={DataClass.EMAIL: RedactionMode.HASH, DataClass.PHONE: RedactionMode.OFF},
            hash_key=HASH_KEY,
        ),
        RedactionPolicy(modes={c: RedactionMode.OFF for c in DataClass if c != DataClass.SECRET}),
    ]
)


def pair(policy: RedactionPolicy) -> tuple[Any, Any]:
    assert COMPILED is not None
    return (
        module.PURE_REDACTOR(policy, SecretsRegistry([SECRET])),
        COMPILED(policy, SecretsRegistry([SECRET])),
    )


@needs_build
def test_the_compiled_class_is_the_one_in_use() -> None:
    assert Redactor is COMPILED
    assert Redactor is not module.PURE_REDACTOR


@needs_build
@settings(max_examples=300, deadline=None)
@given(value=json_values, policy=policies)
def test_json_is_redacted_alike(value: Any, policy: RedactionPolicy) -> None:
    pure, compiled = pair(policy)
    for _ in range(2):  # the second time through, from the caches of clean strings
        expected, got = pure.redact_json(value), compiled.redact_json(value)
        assert got.value == expected.value
        assert dict(got.found) == dict(expected.found)
        # Nothing found: the very same object back (callers skip re-serialising on it).
        assert (got.value is value) == (expected.value is value)


@needs_build
@settings(max_examples=300, deadline=None)
@given(text=texts, policy=policies)
def test_text_is_redacted_alike(text: str, policy: RedactionPolicy) -> None:
    pure, compiled = pair(policy)
    expected, got = pure.redact_text(text), compiled.redact_text(text)
    assert (got.text, dict(got.found)) == (expected.text, dict(expected.found))


@needs_build
def test_a_secret_registered_later_is_found_by_both() -> None:
    pure, compiled = pair(RedactionPolicy())
    late = "late-registered-secret-value-99"
    value = {"note": f"the key is {late}"}
    assert compiled.redact_json(value).value == value  # clean, and remembered clean
    for redactor in (pure, compiled):
        redactor.secrets.add(late)
    assert compiled.redact_json(value).value == pure.redact_json(value).value
    assert compiled.redact_json(value).value == {"note": "the key is [REDACTED:secret]"}


def test_a_build_from_other_source_or_pure_python_mode_is_not_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PILOTHOUSE_PURE_PYTHON", "1")
    assert module._compiled() is None
    monkeypatch.delenv("PILOTHOUSE_PURE_PYTHON")
    source = Path(module.__file__).read_bytes()
    # What the loader compares: the build's stamp against this very source.
    if COMPILED is not None:
        native = __import__(COMPILED.__module__, fromlist=["NATIVE_SOURCE_DIGEST"])
        assert hashlib.sha256(source).hexdigest() == native.NATIVE_SOURCE_DIGEST
    monkeypatch.setattr(Path, "read_bytes", lambda self: source + b"\n# edited\n")
    assert module._compiled() is None
