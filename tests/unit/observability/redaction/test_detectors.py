"""Shape detectors: emails, IBANs and credentials, positives and look-alikes that must stay."""

from __future__ import annotations

import pytest

from pilothouse.observability.redaction.classes import DataClass
from pilothouse.observability.redaction.detectors import (
    ApiKeyDetector,
    Detector,
    EmailDetector,
    IbanDetector,
)

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)


def found(detector: Detector, text: str) -> list[str]:
    """The distinct substrings a detector reports, in order, checking their class.

    Detectors may report a span twice (a key shape inside a credential assignment); the
    redactor merges such duplicates, so the tests compare distinct spans.
    """
    spans = sorted(set(detector.find(text)))
    assert all(span.data_class is detector.data_class for span in spans)
    return [text[span.start : span.end] for span in spans]


# -- email ---------------------------------------------------------------------------------

EMAILS = [
    ("write to john.doe@example.com today", ["john.doe@example.com"]),
    ("<a+tag@mail.sub.example.co.uk>", ["a+tag@mail.sub.example.co.uk"]),
    ("jürgen.müller@beispiel.de", ["jürgen.müller@beispiel.de"]),
    ('{"email":"ops_team-1@corp.io"}', ["ops_team-1@corp.io"]),
    ("a@b.cd and x.y@z.travel", ["a@b.cd", "x.y@z.travel"]),
    ("mailto:First.Last@Example.ORG.", ["First.Last@Example.ORG"]),
]
NOT_EMAILS = [
    "user@localhost",
    "@handle mentioned",
    "a@b",
    "name@domain.c",
    "npm install left-pad@1.3.0",
    "foo@bar.123",
    "price @ 12.50 each",
    "decorators like @property.setter",
]


@pytest.mark.parametrize(("text", "expected"), EMAILS)
def test_email_positives(text: str, expected: list[str]) -> None:
    assert found(EmailDetector(), text) == expected


@pytest.mark.parametrize("text", NOT_EMAILS)
def test_email_negatives(text: str) -> None:
    assert found(EmailDetector(), text) == []


# -- IBAN ----------------------------------------------------------------------------------

IBANS = [
    "DE89 3704 0044 0532 0130 00",
    "DE89370400440532013000",
    "GB82 WEST 1234 5698 7654 32",
    "GB82WEST12345698765432",
    "FR14 2004 1010 0505 0001 3M02 606",
    "NL91 ABNA 0417 1643 00",
    "ES91 2100 0418 4502 0005 1332",
    "IT60 X054 2811 1010 0000 0123 456",
    "CH93 0076 2011 6238 5295 7",
    "BE68 5390 0754 7034",
    "NO93 8601 1117 947",
    "PL61 1090 1014 0000 0712 1981 2874",
]
NOT_IBANS = [
    "DE89 3704 0044 0532 0130 01",  # checksum off by one
    "GB82WEST12345698765433",  # checksum
    "GB82 WEST 1234 5698 7654",  # too short for GB
    "XX89370400440532013000",  # no such country
    "DE8937040044053201300012",  # longer than a German IBAN
    "ID DE89370400440532013000X",  # glued to a letter
    "SKU AB12CDEF34567890 and HT12345678901234567",
    "order ORD2024000123456789",
]


@pytest.mark.parametrize("iban", IBANS)
def test_iban_positives_in_context(iban: str) -> None:
    text = f"Please pay to {iban}. Thanks"
    assert found(IbanDetector(), text) == [iban]


def test_iban_stops_at_the_registry_length_before_the_next_word() -> None:
    text = "IBAN DE89 3704 0044 0532 0130 00 AB12 more words"
    assert found(IbanDetector(), text) == ["DE89 3704 0044 0532 0130 00"]


def test_two_ibans_side_by_side() -> None:
    text = "DE89370400440532013000,GB82WEST12345698765432"
    assert found(IbanDetector(), text) == ["DE89370400440532013000", "GB82WEST12345698765432"]


@pytest.mark.parametrize("text", NOT_IBANS)
def test_iban_negatives(text: str) -> None:
    assert found(IbanDetector(), text) == []


# -- API keys ------------------------------------------------------------------------------

API_KEYS = [
    ("key sk-" + "a1B2c3D4" * 6, ["sk-" + "a1B2c3D4" * 6]),
    ("OPENAI_API_KEY=sk-proj-Ab_cD-ef01234567890XYZabc", ["sk-proj-Ab_cD-ef01234567890XYZabc"]),
    ("aws AKIAIOSFODNN7EXAMPLE here", ["AKIAIOSFODNN7EXAMPLE"]),
    ("ASIAY34FZKBOKMUTVV7A", ["ASIAY34FZKBOKMUTVV7A"]),
    ("token ghp_" + "x" * 36, ["ghp_" + "x" * 36]),
    (
        "pat github_pat_11ABCDEFG0123456789_abcdefghijklmnop",
        ["github_pat_11ABCDEFG0123456789_abcdefghijklmnop"],
    ),
    ("slack xoxb-123456789012-abcdefghijKL", ["xoxb-123456789012-abcdefghijKL"]),
    (
        "google AIzaSyA-1234567890abcdefghijklmnopqrstu ok",
        ["AIzaSyA-1234567890abcdefghijklmnopqrstu"],
    ),
    (f"jwt {JWT} end", [JWT]),
    ("Authorization: Bearer abc.def-123_456", ["abc.def-123_456"]),
    ("curl -H 'Authorization: Basic dXNlcjpwYXNzd29yZA=='", ["dXNlcjpwYXNzd29yZA=="]),
    ("api_key=abcd1234efgh&x=1", ["abcd1234efgh"]),
    ('{"X-API-Key": "abcdef123456"}', ["abcdef123456"]),
    ("apiKey: 'Zm9vYmFyYmF6'", ["Zm9vYmFyYmF6"]),
    ("PASSWORD = hunter22", ["hunter22"]),
    ("passwd:correcthorse", ["correcthorse"]),
    ("client_secret=s3cr3tvalue", ["s3cr3tvalue"]),
    ("ACCESS_TOKEN=abcdef123456", ["abcdef123456"]),
    ("refresh-token: rt_0123456789", ["rt_0123456789"]),
    ("SECRET_KEY='django-insecure-xyz'", ["django-insecure-xyz"]),
]
NOT_API_KEYS = [
    "task-abcdefghijklmnopqrstuvwxyz0123",  # "sk-" inside a word
    "sk-short",
    "Bearer authentication is explained below",
    "Basic understanding of the key concepts",
    "the key to success: patience",
    "max_tokens=1024 and input_tokens: 12",
    "password reset link sent",
    "AKIA1234567890",
    "eyJhbGciOiJIUzI1NiJ9 alone",
    "api_key: [REDACTED:api_key]",
    "Authorization: Bearer [REDACTED:api_key]",
]


@pytest.mark.parametrize(("text", "expected"), API_KEYS)
def test_api_key_positives(text: str, expected: list[str]) -> None:
    assert found(ApiKeyDetector(), text) == expected


@pytest.mark.parametrize("text", NOT_API_KEYS)
def test_api_key_negatives(text: str) -> None:
    assert found(ApiKeyDetector(), text) == []


def test_labels_match_in_any_case_even_when_lower_casing_changes_length() -> None:
    # "İ" lower-cases to two characters; offsets must still point at the value.
    text = "İİ API-KEY=abcdef123456"
    assert found(ApiKeyDetector(), text) == ["abcdef123456"]


def test_detectors_declare_their_class() -> None:
    assert EmailDetector().data_class is DataClass.EMAIL
    assert IbanDetector().data_class is DataClass.IBAN
    assert ApiKeyDetector().data_class is DataClass.API_KEY
