"""The secrets registry: known values found exactly, anywhere, in every embedded form."""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

import pytest

from pilothouse.errors import InvalidRequest
from pilothouse.observability.redaction.classes import DataClass
from pilothouse.observability.redaction.secrets_registry import (
    MIN_SECRET_LENGTH,
    SecretsRegistry,
    embedded_forms,
)

PROVIDER_KEY = 'prov-Key/with+odd=chars&"quotes"-0042'


def occurrences(registry: SecretsRegistry, text: str) -> list[str]:
    spans = sorted(set(registry.find(text)))
    assert all(span.data_class is DataClass.SECRET for span in spans)
    return [text[span.start : span.end] for span in spans]


@pytest.mark.parametrize(
    "text",
    [
        f"plain {PROVIDER_KEY} text",
        f"glued{PROVIDER_KEY}glued",
        f"https://api.test/v1?{urlencode({'key': PROVIDER_KEY})}",
        f"https://api.test/v1/{quote(PROVIDER_KEY, safe='')}/models",
        json.dumps({"headers": {"x-key": PROVIDER_KEY}}),
        json.dumps({"nested": json.dumps({"key": PROVIDER_KEY})}),
        json.dumps([PROVIDER_KEY], ensure_ascii=False),
    ],
)
def test_a_registered_value_is_found_in_every_form_it_takes(text: str) -> None:
    registry = SecretsRegistry([PROVIDER_KEY])
    found = occurrences(registry, text)
    assert found, text
    for form in found:
        assert form in embedded_forms(PROVIDER_KEY)


def test_every_occurrence_is_found_including_overlapping_ones() -> None:
    registry = SecretsRegistry(["abab-abab", "abab-ab"])
    text = "xabab-abab-abab-ababx"
    spans = sorted(registry.find(text))
    covered: set[int] = set()
    for span in spans:
        covered.update(range(span.start, span.end))
    assert covered == set(range(1, len(text) - 1))


def test_short_secrets_are_found_where_no_shape_would_match() -> None:
    registry = SecretsRegistry(["q9-zed"])
    assert occurrences(registry, "see q9-zed, then q9-zed.") == ["q9-zed", "q9-zed"]


def test_too_short_or_blank_values_are_refused() -> None:
    registry = SecretsRegistry()
    assert registry.add("k") is False
    assert registry.add(" " * 20) is False
    assert registry.add("x" * (MIN_SECRET_LENGTH - 1)) is False
    assert len(registry) == 0
    assert list(registry.find("k k k")) == []
    assert registry.add("x" * MIN_SECRET_LENGTH) is True
    assert len(registry) == 1


def test_http_credentials_also_register_their_bare_token() -> None:
    registry = SecretsRegistry()
    assert registry.add("Bearer tool-token-123456")
    assert registry.add("Basic dXNlcjpwYXNzd29yZA==")
    assert occurrences(registry, "token tool-token-123456 leaked") == ["tool-token-123456"]
    assert occurrences(registry, "b64 dXNlcjpwYXNzd29yZA== leaked") == ["dXNlcjpwYXNzd29yZA=="]
    assert "Bearer tool-token-123456" in registry
    assert "tool-token-123456" in registry


def test_references_are_resolved(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDACTION_TEST_KEY", "env-secret-value-77")
    registry = SecretsRegistry()
    assert registry.add_reference("env:REDACTION_TEST_KEY")
    assert "env-secret-value-77" in registry
    with pytest.raises(InvalidRequest):
        registry.add_reference("env:REDACTION_TEST_UNSET_VARIABLE")


def test_version_grows_with_each_addition() -> None:
    registry = SecretsRegistry()
    first = registry.version
    registry.add("first-secret-1")
    second = registry.version
    registry.add("k")  # refused: the version stays
    assert first < second == registry.version
    registry.add("second-secret-2")
    assert registry.version > second
