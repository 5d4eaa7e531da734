"""The redaction policy: defaults, the rules it refuses, and its allow-lists."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pilothouse.observability.redaction.classes import DataClass, RedactionMode
from pilothouse.observability.redaction.policy import DEFAULT_CREDENTIAL_KEYS, RedactionPolicy


def test_the_default_masks_every_class() -> None:
    policy = RedactionPolicy()
    assert {policy.mode(c) for c in DataClass} == {RedactionMode.MASK}
    assert policy.phone_regions == ("US",)
    assert policy.credential_keys == DEFAULT_CREDENTIAL_KEYS


def test_modes_from_configuration_text_fill_in_the_rest() -> None:
    policy = RedactionPolicy.model_validate(
        {"modes": {"email": "hash", "phone": "off"}, "hash_key": "k" * 32}
    )
    assert policy.mode(DataClass.EMAIL) is RedactionMode.HASH
    assert policy.mode(DataClass.PHONE) is RedactionMode.OFF
    assert policy.mode(DataClass.CARD) is RedactionMode.MASK
    assert policy.mode(DataClass.SECRET) is RedactionMode.MASK


def test_secrets_cannot_be_turned_off() -> None:
    with pytest.raises(ValidationError, match="'secret' class cannot be 'off'"):
        RedactionPolicy.model_validate({"modes": {"secret": "off"}})


def test_secrets_may_be_hashed() -> None:
    policy = RedactionPolicy(modes={DataClass.SECRET: RedactionMode.HASH}, hash_key="env:K")
    assert policy.mode(DataClass.SECRET) is RedactionMode.HASH


def test_hashing_needs_a_key() -> None:
    with pytest.raises(ValidationError, match="needs a hash_key"):
        RedactionPolicy.model_validate({"modes": {"email": "hash"}})


@pytest.mark.parametrize(
    "config",
    [
        {"modes": {"ssn": "mask"}},
        {"modes": {"email": "scramble"}},
        {"phone_regions": ["XX"]},
        {"unknown_field": 1},
    ],
)
def test_invalid_configuration_is_rejected(config: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        RedactionPolicy.model_validate(config)


def test_phone_regions_are_upper_cased() -> None:
    assert RedactionPolicy(phone_regions=("gb", "de")).phone_regions == ("GB", "DE")


def test_policies_are_immutable() -> None:
    policy = RedactionPolicy()
    with pytest.raises(ValidationError):
        policy.hash_key = "env:OTHER"  # type: ignore[misc]


def test_allow_lists() -> None:
    policy = RedactionPolicy(
        allow=frozenset({"support@example.com", "+1 800 555 0199"}),
        allow_email_domains=frozenset({"@Example.ORG"}),
    )
    assert policy.allows(DataClass.EMAIL, "support@example.com")
    assert policy.allows(DataClass.PHONE, "+1 800 555 0199")
    assert policy.allows(DataClass.EMAIL, "anyone@example.org")
    assert policy.allows(DataClass.EMAIL, "anyone@mail.EXAMPLE.org")
    assert not policy.allows(DataClass.EMAIL, "anyone@notexample.org")
    assert not policy.allows(DataClass.EMAIL, "sales@example.com")
    assert not policy.allows(DataClass.PHONE, "anyone@example.org")


def test_allow_lists_never_spare_a_secret() -> None:
    policy = RedactionPolicy(allow=frozenset({"sk-allowed-but-secret"}))
    assert policy.allows(DataClass.API_KEY, "sk-allowed-but-secret")
    assert not policy.allows(DataClass.SECRET, "sk-allowed-but-secret")


def test_credential_keys_are_normalised() -> None:
    policy = RedactionPolicy(credential_keys=frozenset({"X-Session-Key", " Private-Token "}))
    assert policy.credential_keys == {"x_session_key", "private_token"}
