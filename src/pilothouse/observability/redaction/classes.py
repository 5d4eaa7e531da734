"""The vocabulary of redaction: data classes, modes and the spans detectors report.

Everything else in :mod:`pilothouse.observability.redaction` speaks in these terms, so they
live apart from the code that uses them: a policy names classes and modes, a detector
returns spans, the redactor turns spans into markers.

A marker is what replaces a redacted span. Its two shapes are fixed here because the
redactor must recognise them again (redacting twice must equal redacting once) and
readers of logs and stored responses learn them once:

* ``[REDACTED:<class>]`` in ``mask`` mode;
* ``[<class>:<12 hex digits>]`` in ``hash`` mode, the hex being the start of an
  HMAC-SHA256 of the redacted value, so equal values stay linkable but unreadable.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import NamedTuple


class DataClass(StrEnum):
    """A kind of sensitive data the redactor knows how to find.

    ``SECRET`` is special: it matches the exact values of a
    :class:`~pilothouse.observability.redaction.secrets_registry.SecretsRegistry` (keys and
    auth headers known at start-up) rather than a shape, and a policy cannot turn it off.
    """

    EMAIL = "email"
    PHONE = "phone"
    CARD = "card"
    IBAN = "iban"
    API_KEY = "api_key"
    SECRET = "secret"


class RedactionMode(StrEnum):
    """What the redactor does with a span of a class.

    ``OFF`` leaves it, ``MASK`` replaces it with ``[REDACTED:<class>]``, ``HASH`` replaces
    it with ``[<class>:<12 hex of HMAC-SHA256(key, value)>]``.
    """

    OFF = "off"
    MASK = "mask"
    HASH = "hash"


class Span(NamedTuple):
    """A half-open range ``[start, end)`` of a string that holds data of one class."""

    start: int
    end: int
    data_class: DataClass


HASH_HEX_DIGITS = 12
"""How many hex digits of the HMAC a ``hash`` marker keeps (48 bits: unique enough to
link equal values within a deployment, too short to be a useful oracle)."""

_CLASS_NAMES = "|".join(re.escape(c.value) for c in DataClass)

MARKER_PATTERN = re.compile(
    rf"\[(?:REDACTED:(?:{_CLASS_NAMES})|(?:{_CLASS_NAMES}):[0-9a-f]{{{HASH_HEX_DIGITS}}})\]"
)
"""Matches a marker the redactor wrote; such text is never redacted again."""


def mask_marker(data_class: DataClass) -> str:
    """The ``mask`` marker of a class, e.g. ``[REDACTED:email]``."""
    return f"[REDACTED:{data_class.value}]"


def hash_marker(data_class: DataClass, hex_digest: str) -> str:
    """The ``hash`` marker of a class for an HMAC hex digest, e.g. ``[email:3f2a…]``."""
    return f"[{data_class.value}:{hex_digest[:HASH_HEX_DIGITS]}]"
