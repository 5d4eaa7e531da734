"""Detectors of data by shape: email addresses, IBANs and credentials.

A detector proposes candidates with a cheap pattern and keeps only real ones, so the
common case (text holding nothing sensitive) costs a scan or two per class. Patterns are
written to open with a literal or a narrow character class, because CPython's ``re``
only skips ahead quickly over text that cannot start a match; word-boundary checks are
done in Python on the few candidates instead of in a look-behind, which would defeat
that. Digit-run detectors (phones, cards) live in
:mod:`~pilothouse.observability.redaction.digit_runs`; known secret values in
:mod:`~pilothouse.observability.redaction.secrets_registry`.

* ``email`` — an address with a dotted domain; internationalised letters allowed. Found
  from each ``@``, so text without one costs a single substring test.
* ``iban`` — an upper-case country code, check digits and BBAN, compact or grouped by
  spaces, whose length, national format and ISO 7064 mod-97 checksum ``schwifty``
  validates against the IBAN registry it ships. IBANs written in lower case are not
  recognised (ISO 13616 writes them in capitals, and a case-blind scan costs twice as
  much on every text).
* ``api_key`` — the shapes of well-known credentials (Pilothouse ``phk_``, OpenAI
  ``sk-``, AWS ``AKIA``/``ASIA``, GitHub ``ghp_``/``github_pat_``, Slack ``xox?-``,
  Google ``AIza``, JWTs),
  the token after ``Bearer``, and the value of credential assignments in any case
  (``api_key=…``, ``"X-Api-Key": "…"``, ``password: …``, ``Authorization: Basic …``).
  Where a label precedes the value only the value is reported, so redacted text still
  reads ``Authorization: Bearer [REDACTED:api_key]``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Protocol

from pilothouse.observability.redaction.classes import DataClass, Span


class Detector(Protocol):
    """Finds the spans of one data class in a string.

    Implementations must be thread-safe and side-effect free; spans may be returned in any
    order and may overlap each other (the redactor merges them).
    """

    data_class: DataClass

    def find(self, text: str) -> Iterator[Span]:
        """Yield the spans of ``text`` that hold data of :attr:`data_class`."""
        ...


def glued(text: str, index: int) -> bool:
    """Whether ``text[index]`` is a letter, digit or underscore (part of a larger token)."""
    return 0 <= index < len(text) and (text[index].isalnum() or text[index] == "_")


# -- email ---------------------------------------------------------------------------------

_LOCAL_PUNCTUATION = frozenset("._%+-")
_MAX_LOCAL_PART = 64
_DOMAIN = re.compile(r"(?:[^\W_](?:[\w\-]{0,61}[^\W_])?\.)+[^\W\d_]{2,63}(?![\w\-])")


class EmailDetector:
    """Email addresses."""

    data_class = DataClass.EMAIL

    def find(self, text: str) -> Iterator[Span]:
        """Yield every address, found outwards from each ``@``."""
        at = text.find("@")
        while at != -1:
            start = at
            while (
                start > 0
                and at - start < _MAX_LOCAL_PART
                and (text[start - 1].isalnum() or text[start - 1] in _LOCAL_PUNCTUATION)
            ):
                start -= 1
            domain = _DOMAIN.match(text, at + 1) if start < at else None
            if domain:
                yield Span(start, domain.end(), DataClass.EMAIL)
            at = text.find("@", at + 1)


# -- IBAN ----------------------------------------------------------------------------------

_IBAN_RUN = re.compile(r"[A-Z][A-Z][0-9][0-9](?: ?[A-Za-z0-9]){11,30}")


class IbanDetector:
    """International Bank Account Numbers, compact or printed in groups."""

    data_class = DataClass.IBAN

    def find(self, text: str) -> Iterator[Span]:
        """Yield IBANs whose length, format and mod-97 checksum are valid."""
        position = 0
        while match := _IBAN_RUN.search(text, position):
            end = None if glued(text, match.start() - 1) else _iban_end(text, match)
            if end is None:
                position = match.start() + 1
                continue
            yield Span(match.start(), end, DataClass.IBAN)
            position = end


def _iban_end(text: str, match: re.Match[str]) -> int | None:
    """Where the IBAN starting at ``match`` ends, or None if it is not a valid IBAN.

    The candidate pattern may run past the IBAN into the next word; the registry's length
    for the country says where the IBAN really stops. ``schwifty`` (and the IBAN registry
    it loads, about 4 MiB resident) is imported by the first candidate, not at start-up.
    """
    from schwifty import IBAN
    from schwifty.exceptions import SchwiftyException
    from schwifty.registry import get_iban_spec

    try:
        length = get_iban_spec(match.group()[:2]).iban_length
    except SchwiftyException:
        return None
    compact: list[str] = []
    for index in range(match.start(), match.end()):
        if text[index] != " ":
            compact.append(text[index])
            if len(compact) == length:
                end = index + 1
                break
    else:
        return None
    if glued(text, end):
        return None
    try:
        IBAN("".join(compact).upper())
    except SchwiftyException:
        return None
    return end


# -- API keys and credentials -------------------------------------------------------------

_TOKEN = r"[A-Za-z0-9._~+/\-]"
# Each shape with the literal it opens with: a substring test on that literal is cheaper
# than even a fast scan, and most texts hold none of them.
_SHAPES = tuple(
    (literal, re.compile(pattern))
    for literal, pattern in (
        ("sk-", r"sk-[A-Za-z0-9_\-]{20,}"),  # OpenAI and compatible: sk-, sk-proj-, sk-svcacct-
        ("phk_", r"phk_[0-9a-f]{8}_[A-Za-z0-9_\-]{20,}"),  # Pilothouse API keys
        ("AKIA", r"AKIA[0-9A-Z]{16}(?![0-9A-Za-z])"),  # AWS access key id
        ("ASIA", r"ASIA[0-9A-Z]{16}(?![0-9A-Za-z])"),  # AWS temporary access key id
        ("gh", r"gh[pousr]_[A-Za-z0-9]{36,}"),  # GitHub classic tokens
        ("github_pat_", r"github_pat_[A-Za-z0-9_]{22,}"),  # GitHub fine-grained tokens
        ("xox", r"xox[abeprs]-[A-Za-z0-9\-]{10,}"),  # Slack
        ("AIza", r"AIza[0-9A-Za-z_\-]{35}(?![0-9A-Za-z_\-])"),  # Google API key
        ("eyJ", r"eyJ[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*"),  # JWT
        # A bearer token; a purely alphabetic word must be long to count, so that
        # "Bearer authentication" stays readable.
        (
            "Bearer",
            rf"Bearer\s+(?P<value>(?={_TOKEN}*[0-9._~+/\-]){_TOKEN}{{8,}}=*|[A-Za-z]{{24,}})",
        ),
    )
)

# After a credential label: the assignment, an optional auth scheme, then the value.
_ASSIGNMENT = (
    r"[\"']?\s*[:=]\s*[\"']?(?:(?:basic|bearer|token|digest)\s+)?"
    r"(?!(?:basic|bearer|token|digest)\b)(?P<value>[^\s\"'`,;&<>\[\]{}()]{6,})"
)
# Each label pattern opens with a literal so the scan is fast; the words allowed before
# ``key`` and ``token`` are checked by look-behinds placed after it.
_LABELS = (
    ("key", r"key(?:(?<=apikey)|(?<=api[_\-]key)|(?<=secretkey)|(?<=secret[_\-]key))"),
    (
        "token",
        r"token(?:(?<=accesstoken)|(?<=access[_\-]token)|(?<=authtoken)|(?<=auth[_\-]token)"
        r"|(?<=refreshtoken)|(?<=refresh[_\-]token)|(?<=apitoken)|(?<=api[_\-]token))",
    ),
    ("secret", r"client[_\-]?secret"),
    ("passw", r"passw(?:or)?d"),
    ("authorization", r"authorization"),
)
_ASSIGNED = tuple((word, re.compile(label + _ASSIGNMENT)) for word, label in _LABELS)
_ASSIGNED_ANY_CASE = tuple(
    (word, re.compile(label + _ASSIGNMENT, re.IGNORECASE)) for word, label in _LABELS
)


class ApiKeyDetector:
    """Credentials recognisable by shape or by the label in front of them."""

    data_class = DataClass.API_KEY

    def find(self, text: str) -> Iterator[Span]:
        """Yield each key, token or assigned credential value."""
        for literal, pattern in _SHAPES:
            if literal not in text:
                continue
            for match in pattern.finditer(text):
                if not glued(text, match.start() - 1):
                    group = "value" if match.lastgroup else 0
                    yield Span(match.start(group), match.end(group), DataClass.API_KEY)
        # Labels are matched in lower case: a case-blind scan is ten times slower. When
        # lower-casing changes the length (rare letters such as "İ"), offsets would no
        # longer line up, so the slow patterns run on the text itself.
        lowered = text.lower()
        subject, patterns = (
            (lowered, _ASSIGNED) if len(lowered) == len(text) else (text, _ASSIGNED_ANY_CASE)
        )
        for word, pattern in patterns:
            if word not in lowered:
                continue
            for match in pattern.finditer(subject):
                yield Span(match.start("value"), match.end("value"), DataClass.API_KEY)
