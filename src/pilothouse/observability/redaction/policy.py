"""The redaction policy: per data class, whether to leave, mask or hash; and what to spare.

A release carries one policy (its ``redaction:`` section); the same policy governs what is
persisted, logged and exported for that release. The default masks every class::

    redaction:
      modes: {email: hash, phone: mask}   # classes not named stay ``mask``
      hash_key: env:PILOTHOUSE_REDACTION_KEY
      phone_regions: [US, GB]
      allow: [support@example.com]
      allow_email_domains: [example.org]

``secret`` (the exact values of the secrets registry) can be masked or hashed but never
turned off: a policy that tries is rejected, so no release can leak a provider key by
configuration. Allow-lists never spare a registered secret either.
"""

from __future__ import annotations

import functools
from typing import Any

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pilothouse.observability.redaction.classes import DataClass, RedactionMode

DEFAULT_CREDENTIAL_KEYS: frozenset[str] = frozenset(
    {
        "access_token",
        "api_key",
        "api_token",
        "apikey",
        "authorization",
        "client_secret",
        "cookie",
        "id_token",
        "passwd",
        "password",
        "private_key",
        "proxy_authorization",
        "refresh_token",
        "secret",
        "secret_key",
        "set_cookie",
        "x_api_key",
    }
)
"""Object keys whose string values are credentials whatever their shape (normalised:
lower case, ``-`` read as ``_``). A JSON walk redacts such values whole, as ``api_key``."""


@functools.lru_cache(maxsize=4096)
def normalise_key(key: str) -> str:
    """An object key as :data:`DEFAULT_CREDENTIAL_KEYS` spells it (``X-API-Key`` →
    ``x_api_key``). Cached: a JSON walk asks this for every key, and keys repeat."""
    return key.strip().lower().replace("-", "_")


class RedactionPolicy(BaseModel):
    """How one release redacts data before it is persisted, logged or exported.

    Attributes:
        modes: The mode of each data class; classes left out are ``mask``.
        hash_key: A secret reference (``env:NAME``, ``file:PATH``) to the HMAC key of
            ``hash`` mode; required when any class hashes. The resolved key is itself
            registered as a secret.
        phone_regions: Regions whose national phone numbers (written without a country
            code) are recognised; numbers with ``+`` are recognised from any region.
        allow: Exact values never redacted (a support address, a published hotline).
        allow_email_domains: Email domains (and their subdomains) never redacted.
        credential_keys: Object keys whose string values a JSON walk redacts whole.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    modes: dict[DataClass, RedactionMode] = Field(default_factory=dict, validate_default=True)
    hash_key: str | None = None
    phone_regions: tuple[str, ...] = ("US",)
    allow: frozenset[str] = frozenset()
    allow_email_domains: frozenset[str] = frozenset()
    credential_keys: frozenset[str] = DEFAULT_CREDENTIAL_KEYS

    @field_validator("modes", mode="before")
    @classmethod
    def _yaml_off(cls, modes: Any) -> Any:
        """YAML 1.1 reads a bare ``off`` as ``false``; take it as the mode it was meant as."""
        if isinstance(modes, dict):
            return {k: RedactionMode.OFF if v is False else v for k, v in modes.items()}
        return modes

    @field_validator("modes")
    @classmethod
    def _complete_modes(
        cls, modes: dict[DataClass, RedactionMode]
    ) -> dict[DataClass, RedactionMode]:
        if modes.get(DataClass.SECRET) is RedactionMode.OFF:
            raise ValueError("the 'secret' class cannot be 'off'; use 'mask' or 'hash'")
        return {data_class: modes.get(data_class, RedactionMode.MASK) for data_class in DataClass}

    @field_validator("phone_regions")
    @classmethod
    def _known_regions(cls, regions: tuple[str, ...]) -> tuple[str, ...]:
        upper = tuple(region.upper() for region in regions)
        unknown = sorted(set(upper) - phonenumbers.SUPPORTED_REGIONS)
        if unknown:
            raise ValueError(f"unknown phone regions: {', '.join(unknown)}")
        return upper

    @field_validator("allow_email_domains")
    @classmethod
    def _lower_domains(cls, domains: frozenset[str]) -> frozenset[str]:
        return frozenset(domain.strip().lower().lstrip("@") for domain in domains)

    @field_validator("credential_keys")
    @classmethod
    def _normalise_keys(cls, keys: frozenset[str]) -> frozenset[str]:
        return frozenset(normalise_key(key) for key in keys)

    @model_validator(mode="after")
    def _hash_needs_key(self) -> RedactionPolicy:
        hashing = [c.value for c, mode in self.modes.items() if mode is RedactionMode.HASH]
        if hashing and not self.hash_key:
            raise ValueError(f"'hash' mode ({', '.join(hashing)}) needs a hash_key reference")
        return self

    def mode(self, data_class: DataClass) -> RedactionMode:
        """The mode of ``data_class`` under this policy."""
        return self.modes[data_class]

    def allows(self, data_class: DataClass, value: str) -> bool:
        """Whether a detected ``value`` is spared by the allow-lists (never a secret)."""
        if data_class is DataClass.SECRET:
            return False
        if value in self.allow:
            return True
        if data_class is DataClass.EMAIL and self.allow_email_domains:
            domain = value.rpartition("@")[2].lower()
            return any(
                domain == allowed or domain.endswith("." + allowed)
                for allowed in self.allow_email_domains
            )
        return False
