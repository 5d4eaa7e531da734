"""Properties over random text: an injected canary never survives; redaction is idempotent."""

from __future__ import annotations

import json
import string

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pilothouse.observability.redaction import (
    DataClass,
    RedactionMode,
    RedactionPolicy,
    Redactor,
    SecretsRegistry,
)

# Canaries hold a digit, so they can never be spelled by a mask marker, which has none.
canaries = st.text(
    alphabet=string.ascii_letters + string.digits + "-_.~+/=:@%",
    min_size=8,
    max_size=48,
).filter(lambda value: any(char.isdigit() for char in value) and value.strip() == value)

FRAGMENTS = [
    "jane.doe@example.com",
    "+44 20 7946 0958",
    "(415) 555-2671",
    "4111 1111 1111 1111",
    "5555-5555-5555-4444",
    "DE89 3704 0044 0532 0130 00",
    "GB82WEST12345698765432",
    "AKIAIOSFODNN7EXAMPLE",
    "sk-proj-abcdefghijklmnopqrstuvwxyz012345",
    "Authorization: Bearer abc.def-123_456",
    'api_key="abcd1234efgh"',
    "password: hunter22",
    "2024-05-01 12:30:45",
    "Order #100234",
    "v10.0.19041.1234",
    "$1,234.56",
    "123e4567-e89b-12d3-a456-426614174000",
    "[REDACTED:email]",
    "[",
    "]",
    "@",
    "+",
    "-",
    " ",
    "\n",
    "\\",
    '"',
]

texts = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=12)), max_size=12).map(
    "".join
)

PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much]
)


@PROPERTY_SETTINGS
@given(prefix=st.text(), suffix=st.text(), canary=canaries, noise=texts)
def test_an_injected_canary_never_survives(
    prefix: str, suffix: str, canary: str, noise: str
) -> None:
    redactor = Redactor(secrets=SecretsRegistry([canary]))
    text = prefix + noise + canary + suffix
    redacted = redactor.redact_text(text)
    assert canary not in redacted.text
    # The canary's span may have merged into a longer one of another class.
    assert sum(redacted.found.values()) >= 1


@PROPERTY_SETTINGS
@given(canary=canaries, position=st.integers(min_value=0), noise=texts)
def test_an_injected_canary_never_survives_in_json_either(
    canary: str, position: int, noise: str
) -> None:
    cut = position % (len(noise) + 1)
    document = {"items": [{"text": noise[:cut] + canary + noise[cut:]}], canary: canary}
    redactor = Redactor(secrets=SecretsRegistry([canary]))
    redacted = redactor.redact_json(document).value
    assert canary not in json.dumps(redacted, ensure_ascii=False)
    assert canary not in json.dumps(redacted)
    serialised = redactor.redact_text(json.dumps(document)).text
    assert canary not in serialised


@PROPERTY_SETTINGS
@given(text=texts)
def test_redacting_twice_equals_redacting_once(text: str) -> None:
    redactor = Redactor(RedactionPolicy(phone_regions=("US", "GB", "DE")))
    once = redactor.redact_text(text).text
    assert redactor.redact_text(once).text == once


@PROPERTY_SETTINGS
@given(text=texts)
def test_hashing_is_idempotent_too(text: str) -> None:
    policy = RedactionPolicy(
        modes=dict.fromkeys(DataClass, RedactionMode.HASH), hash_key="property-test-key-0123"
    )
    redactor = Redactor(policy)
    once = redactor.redact_text(text).text
    assert redactor.redact_text(once).text == once


@PROPERTY_SETTINGS
@given(text=st.text())
def test_text_outside_the_spans_is_kept_verbatim(text: str) -> None:
    redacted = Redactor().redact_text(text)
    assume(not redacted.found)
    assert redacted.text == text
