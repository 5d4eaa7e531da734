"""The redactor: modes, merging, allow-lists, JSON walking, idempotence and its cache."""

from __future__ import annotations

import copy
import time
from collections import Counter, OrderedDict
from enum import StrEnum
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pilothouse.errors import InvalidRequest
from pilothouse.observability.redaction import (
    DataClass,
    RedactionMode,
    RedactionPolicy,
    Redactor,
    SecretsRegistry,
)
from pilothouse.observability.redaction.classes import MARKER_PATTERN

HASH_KEY = "test-hash-key-0123456789abcdef"
SECRET = "pilothouse-canary-secret-42"
TEXT = (
    "Contact jane@example.com or +44 20 7946 0958; card 4111 1111 1111 1111; "
    "IBAN DE89 3704 0044 0532 0130 00; key AKIAIOSFODNN7EXAMPLE; "
    f"provider {SECRET}."
)


def hashing(*classes: DataClass, key: str = HASH_KEY) -> RedactionPolicy:
    return RedactionPolicy(modes=dict.fromkeys(classes, RedactionMode.HASH), hash_key=key)


# -- modes ---------------------------------------------------------------------------------


def test_mask_replaces_each_class_with_a_readable_marker() -> None:
    redacted = Redactor(secrets=SecretsRegistry([SECRET])).redact_text(TEXT)
    assert redacted.text == (
        "Contact [REDACTED:email] or [REDACTED:phone]; card [REDACTED:card]; "
        "IBAN [REDACTED:iban]; key [REDACTED:api_key]; provider [REDACTED:secret]."
    )
    assert redacted.found == Counter(dict.fromkeys(DataClass, 1))


def test_hash_markers_are_stable_keyed_and_linkable() -> None:
    policy = hashing(*DataClass)
    first = Redactor(policy).redact_text("a@example.com and a@example.com, b@example.com")
    again = Redactor(policy).redact_text("a@example.com")
    other_key = Redactor(hashing(*DataClass, key="another-key-0123456789")).redact_text(
        "a@example.com"
    )
    markers = MARKER_PATTERN.findall(first.text)
    assert len(markers) == 3
    assert markers[0] == markers[1] != markers[2]
    assert again.text == markers[0]
    assert other_key.text != markers[0]
    assert markers[0].startswith("[email:") and len(markers[0]) == len("[email:]") + 12
    assert first.found == Counter({DataClass.EMAIL: 3})


def test_off_leaves_a_class_alone_but_never_a_secret() -> None:
    policy = RedactionPolicy(
        modes={c: RedactionMode.OFF for c in DataClass if c is not DataClass.SECRET}
    )
    redacted = Redactor(policy, SecretsRegistry([SECRET])).redact_text(TEXT)
    assert redacted.text == TEXT.replace(SECRET, "[REDACTED:secret]")
    assert redacted.found == Counter({DataClass.SECRET: 1})


def test_modes_mix_per_class() -> None:
    policy = RedactionPolicy(
        modes={DataClass.EMAIL: RedactionMode.HASH, DataClass.PHONE: RedactionMode.OFF},
        hash_key=HASH_KEY,
    )
    text = Redactor(policy).redact_text(TEXT).text
    assert "+44 20 7946 0958" in text
    assert "jane@example.com" not in text and "[email:" in text
    assert "[REDACTED:card]" in text


def test_the_hash_key_comes_from_a_reference_and_is_itself_a_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PILOTHOUSE_TEST_REDACTION_KEY", HASH_KEY)
    redactor = Redactor(hashing(DataClass.EMAIL, key="env:PILOTHOUSE_TEST_REDACTION_KEY"))
    assert HASH_KEY in redactor.secrets
    assert HASH_KEY not in redactor.redact_text(f"key={HASH_KEY}").text


def test_a_short_or_missing_hash_key_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="at least 16"):
        Redactor(hashing(DataClass.EMAIL, key="short"))
    with pytest.raises(InvalidRequest, match="unset variable"):
        Redactor(hashing(DataClass.EMAIL, key="env:PILOTHOUSE_TEST_UNSET_KEY"))


# -- spans ---------------------------------------------------------------------------------


def test_a_secret_inside_a_longer_shape_is_covered_by_the_longer_span() -> None:
    secret = "abcdef0123456789"
    redactor = Redactor(secrets=SecretsRegistry([secret]))
    redacted = redactor.redact_text(f"Authorization: Bearer xyz.{secret}.tail")
    assert redacted.text == "Authorization: Bearer [REDACTED:api_key]"
    assert redacted.found == Counter({DataClass.API_KEY: 1})


def test_partly_overlapping_spans_merge_into_their_union() -> None:
    # The secret starts inside the email and runs past it: no character may survive.
    secret = "example.com and-more"
    redactor = Redactor(secrets=SecretsRegistry([secret]))
    redacted = redactor.redact_text(f"mail jo@{secret} now")
    assert redacted.text == "mail [REDACTED:secret] now"
    assert redacted.found == Counter({DataClass.SECRET: 1})


def test_equally_long_spans_take_the_stronger_class() -> None:
    key = "AKIAIOSFODNN7EXAMPLE"
    redacted = Redactor(secrets=SecretsRegistry([key])).redact_text(f"id {key}")
    assert redacted.text == "id [REDACTED:secret]"


def test_allow_lists_spare_values_but_not_secrets() -> None:
    policy = RedactionPolicy(
        allow=frozenset({"support@example.com", "support@pilothouse.test"}),
        allow_email_domains=frozenset({"example.org"}),
    )
    redactor = Redactor(policy, SecretsRegistry(["support@pilothouse.test"]))
    text = "support@example.com, x@help.example.org, y@evil.com, support@pilothouse.test"
    redacted = redactor.redact_text(text)
    assert redacted.text == (
        "support@example.com, x@help.example.org, [REDACTED:email], [REDACTED:secret]"
    )


# -- idempotence and the fast path ---------------------------------------------------------


@pytest.mark.parametrize("policy", [RedactionPolicy(), hashing(*DataClass)])
def test_redacting_twice_equals_redacting_once(policy: RedactionPolicy) -> None:
    redactor = Redactor(policy, SecretsRegistry([SECRET]))
    once = redactor.redact_text(TEXT)
    twice = redactor.redact_text(once.text)
    assert twice.text == once.text
    assert twice.found == Counter()


def test_text_without_anything_sensitive_comes_back_as_the_same_object() -> None:
    text = "Order #100234 shipped 2024-05-01 12:30, total $1,234.56, v2.3.1. " * 10
    redacted = Redactor().redact_text(text)
    assert redacted.text is text
    assert redacted.found == Counter()


def test_the_clean_cache_forgets_when_a_secret_is_registered() -> None:
    registry = SecretsRegistry()
    redactor = Redactor(secrets=registry)
    text = "late-registered-secret"
    assert redactor.redact_text(text).text == text
    assert redactor.redact_text(text).text == text  # now from the cache
    registry.add("late-registered-secret")
    assert redactor.redact_text(text).text == "[REDACTED:secret]"


def test_the_clean_cache_stays_bounded() -> None:
    redactor = Redactor()
    for number in range(10_000):
        redactor.redact_text(f"clean string number {number}")
    assert len(redactor._clean) <= 4096


@pytest.mark.parametrize(
    "text",
    [
        "a@" * 50_000,
        "a" * 100_000 + "@",
        "x@" + "a." * 50_000,
        "api_key=" * 20_000,
        "Bearer " * 20_000,
        "DE89 " * 30_000,
        "eyJabcde.eyJabcde." * 10_000,
    ],
)
def test_pathological_inputs_finish_quickly(text: str) -> None:
    started = time.perf_counter()
    Redactor(secrets=SecretsRegistry([SECRET])).redact_text(text)
    assert time.perf_counter() - started < 5.0


# -- JSON ----------------------------------------------------------------------------------


def test_json_walks_nested_objects_and_lists() -> None:
    value = {
        "id": "resp_123",
        "output": [
            {"type": "message", "content": [{"text": "mail jane@example.com"}]},
            ["call +1 415 555 2671", {"deep": {"deeper": [SECRET]}}],
        ],
    }
    original = copy.deepcopy(value)
    redacted = Redactor(secrets=SecretsRegistry([SECRET])).redact_json(value)
    assert redacted.value == {
        "id": "resp_123",
        "output": [
            {"type": "message", "content": [{"text": "mail [REDACTED:email]"}]},
            ["call [REDACTED:phone]", {"deep": {"deeper": ["[REDACTED:secret]"]}}],
        ],
    }
    assert redacted.found == Counter({DataClass.EMAIL: 1, DataClass.PHONE: 1, DataClass.SECRET: 1})
    assert value == original  # the input is never modified


def test_non_string_leaves_are_untouched() -> None:
    value = {
        "n": 12,
        "big": 1714567890123,
        "huge": 10**5000,
        "f": 4111111111111111.0,
        "t": True,
        "z": None,
    }
    redacted = Redactor().redact_json(value)
    assert redacted.value is value
    assert redacted.found == Counter()


def test_an_integer_holding_a_card_number_is_replaced_by_its_marker() -> None:
    redacted = Redactor().redact_json({"pan": 4111111111111111, "qty": 2})
    assert redacted.value == {"pan": "[REDACTED:card]", "qty": 2}


def test_unchanged_containers_are_returned_as_they_are() -> None:
    inner = {"a": ["x", 1], "b": {"c": "plain text here"}}
    outer = {"keep": inner, "change": "jane@example.com"}
    redacted = Redactor().redact_json(outer)
    assert redacted.value is not outer
    assert redacted.value["keep"] is inner


def test_tuples_come_back_as_lists_and_subclasses_as_plain_types() -> None:
    class Colour(StrEnum):
        MAIL = "jane@example.com"

    value = OrderedDict(items=("jane@example.com", Colour.MAIL))
    redacted = Redactor().redact_json(value)
    assert redacted.value == {"items": ["[REDACTED:email]", "[REDACTED:email]"]}
    assert type(redacted.value["items"]) is list


def test_credential_keys_redact_their_string_values_whole() -> None:
    value = {
        "headers": {"Authorization": "Token opaque value", "X-Api-Key": "short1", "Accept": "*/*"},
        "password": "correct horse battery staple",
        "api_key": "",
        "secret": {"nested": "plain"},
        "cookie": "[REDACTED:api_key]",
    }
    redacted = Redactor().redact_json(value)
    assert redacted.value == {
        "headers": {
            "Authorization": "[REDACTED:api_key]",
            "X-Api-Key": "[REDACTED:api_key]",
            "Accept": "*/*",
        },
        "password": "[REDACTED:api_key]",
        "api_key": "",
        "secret": {"nested": "plain"},
        "cookie": "[REDACTED:api_key]",
    }
    assert redacted.found == Counter({DataClass.API_KEY: 3})


def test_keys_holding_sensitive_data_are_redacted_and_kept_apart() -> None:
    value = {"jane@example.com": 1, "john@example.com": 2, "[REDACTED:email]": 3, "n": 4}
    redacted = Redactor().redact_json(value)
    assert redacted.value == {
        "[REDACTED:email]": 1,
        "[REDACTED:email]#2": 2,
        "[REDACTED:email]#3": 3,
        "n": 4,
    }
    assert redacted.found == Counter({DataClass.EMAIL: 2})


def test_hashed_keys_stay_distinct_and_linkable() -> None:
    value: dict[str, Any] = {"jane@example.com": {"seen": 1}, "john@example.com": {"seen": 2}}
    redactor = Redactor(hashing(DataClass.EMAIL))
    first = redactor.redact_json(value).value
    second = redactor.redact_json({"jane@example.com": 0}).value
    assert len(first) == 2
    assert next(iter(second)) == next(iter(first))


def test_redact_json_is_idempotent() -> None:
    value = {"text": TEXT, "list": [TEXT, {"password": "pw-123456"}], "jane@example.com": TEXT}
    redactor = Redactor(secrets=SecretsRegistry([SECRET]))
    once = redactor.redact_json(value).value
    twice = redactor.redact_json(once)
    assert twice.value == once
    assert twice.found == Counter()


def test_a_credential_value_is_redacted_even_when_the_same_text_is_known_clean() -> None:
    """The walk answers known-clean strings without a pass; a credential key's value must
    still be redacted whole, however often the same text was seen clean elsewhere."""
    redactor = Redactor()
    assert redactor.redact_json({"note": "opaque-value-1"}).found == Counter()
    redacted = redactor.redact_json({"note": "opaque-value-1", "password": "opaque-value-1"})
    assert redacted.value == {"note": "opaque-value-1", "password": "[REDACTED:api_key]"}


def test_an_object_changed_midway_keeps_its_order_and_its_unchanged_members() -> None:
    nested = {"deep": ["plain words here"]}
    value = {"first": "alpha words", "nested": nested, "mail": "jane@example.com", "last": 7}
    redactor = Redactor()
    redactor.redact_json(value)  # the clean strings are now cached
    redacted = redactor.redact_json(value).value
    assert list(redacted) == ["first", "nested", "mail", "last"]
    assert redacted["nested"] is nested
    assert redacted == {**value, "mail": "[REDACTED:email]"}


def test_a_redacted_key_colliding_with_an_earlier_literal_key_is_kept_apart() -> None:
    value = {"[REDACTED:email]": 1, "plain": 2, "jane@example.com": 3}
    redacted = Redactor().redact_json(value)
    assert redacted.value == {"[REDACTED:email]": 1, "plain": 2, "[REDACTED:email]#2": 3}


def test_lists_change_only_where_an_item_changes() -> None:
    redactor = Redactor()
    clean = ["alpha words", {"k": "beta words"}, 12345678]
    assert redactor.redact_json(clean).value is clean
    mixed = ["alpha words", "jane@example.com", ("tuple words", 4111111111111111)]
    assert redactor.redact_json(mixed).value == [
        "alpha words",
        "[REDACTED:email]",
        ["tuple words", "[REDACTED:card]"],
    ]


def test_small_integers_need_no_pass_but_a_numeric_secret_in_a_larger_one_is_found() -> None:
    redactor = Redactor(secrets=SecretsRegistry(["9876543210"]))
    assert redactor.redact_json({"n": 9999, "m": -9999}).value == {"n": 9999, "m": -9999}
    assert redactor.redact_json({"id": 19876543210}).value == {"id": "1[REDACTED:secret]"}


ID_PREFIXES = ("resp_", "msg_", "fc_", "fco_", "call_", "rs_", "conv_", "item_", "mcp_")
ID_PREFIXES += ("mcpl_", "mcpr_", "fb_", "req_", "run_", "appr_", "ph-")


@given(
    st.sampled_from(ID_PREFIXES),
    st.text(alphabet=st.sampled_from("0123456789" * 6 + "abcdef"), min_size=20, max_size=128),
)
def test_no_shape_detector_fires_on_an_id_pilothouse_mints(prefix: str, hex_digits: str) -> None:
    """The redactor looks only for registered secrets in such ids (see ``_OPAQUE_ID``):
    this checks that every other detector would have found nothing anyway."""
    from pilothouse.observability.redaction.redactor import _OPAQUE_ID

    text = prefix + hex_digits
    assert _OPAQUE_ID.fullmatch(text)
    redactor = Redactor()
    shape_detectors = [d for d in redactor._detectors if d.data_class is not DataClass.SECRET]
    assert [span for d in shape_detectors for span in d.find(text)] == []


def test_a_registered_secret_inside_an_id_shape_is_still_found() -> None:
    secret = "0123456789abcdef0123"
    redactor = Redactor(secrets=SecretsRegistry([secret]))
    assert redactor.redact_text(f"resp_{secret}ffff").text == "resp_[REDACTED:secret]ffff"
