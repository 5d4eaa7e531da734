"""Cards and phone numbers: valid ones in many formats, and numbers that only look alike."""

from __future__ import annotations

import re

import pytest

from pilothouse.observability.redaction import digit_runs
from pilothouse.observability.redaction.digit_runs import CardDetector, PhoneDetector, luhn_valid

from .test_detectors import found

# -- Luhn and cards ------------------------------------------------------------------------

CARDS = [
    "4111111111111111",  # Visa
    "4111 1111 1111 1111",
    "4111-1111-1111-1111",
    "4012888888881881",
    "5555 5555 5555 4444",  # Mastercard
    "5105-1051-0510-5100",
    "2223003122003222",  # Mastercard 2-series
    "3782 822463 10005",  # Amex 4-6-5
    "371449635398431",
    "6011111111111117",  # Discover
    "6011 0009 9013 9424",
    "3530111333300000",  # JCB
    "30569309025904",  # Diners, 14 digits
    "4000000000000000006",  # 19 digits
]
NOT_CARDS = [
    "4111111111111112",  # Luhn fails
    "4111 1111 1111 1112",
    "1234567812345670",  # Luhn passes, but no card starts with 1
    "0000 0000 0000 0000",  # nor with 0
    "41111111111111111111",  # 20 digits: no window of a longer run is a card
    "Order #100234 shipped",
    "ORD-2024-000123",
    "timestamp 1714567890123 ms",
    "UUID 123e4567-e89b-12d3-a456-426614174000",
    "version 10.0.19041.1234",
    "price $4,111.11 or 4 111 111,11 EUR",
    "ratio 0.4111111111111111",  # after a decimal point
    "ID4111111111111111",  # glued to letters
    "4111111111111111abc",
    "3 4 5 6 7 8 9 10 11 12 13 14 15",  # a list of small numbers
    "isbn 978-3-16-148410-0",
]


@pytest.mark.parametrize(
    ("digits", "valid"),
    [
        ("4111111111111111", True),
        ("79927398713", True),
        ("79927398710", False),
        ("0", True),
        ("18", True),
        ("19", False),
    ],
)
def test_luhn(digits: str, valid: bool) -> None:
    assert luhn_valid(digits) is valid


@pytest.mark.parametrize("card", CARDS)
def test_card_positives_in_context(card: str) -> None:
    assert found(CardDetector(), f"card: {card}, exp 12/27") == [card]


def test_card_followed_by_a_year_is_found_without_the_year() -> None:
    assert found(CardDetector(), "4111 1111 1111 1111 2024") == ["4111 1111 1111 1111"]


def test_two_cards_in_one_text() -> None:
    text = "4111111111111111 and 5555-5555-5555-4444"
    assert found(CardDetector(), text) == ["4111111111111111", "5555-5555-5555-4444"]


@pytest.mark.parametrize("text", NOT_CARDS)
def test_card_negatives(text: str) -> None:
    assert found(CardDetector(), text) == []


# -- phones --------------------------------------------------------------------------------

PHONES = [
    ("US", "(415) 555-2671"),
    ("US", "415-555-2671"),
    ("US", "415.555.2671"),
    ("US", "415 555 2671"),
    ("US", "+1 415 555 2671"),
    ("US", "+14155552671"),
    ("US", "+1 (415) 555-2671"),
    ("US", "+44 20 7946 0958"),  # international numbers are found from any region
    ("US", "+49 30 901820"),
    ("US", "+33 1 42 68 53 00"),
    ("US", "+81 3-3224-9999"),
    ("US", "+91 98765 43210"),
    ("US", "+61 2 9374 4000"),
    ("GB", "020 7946 0958"),
    ("GB", "0044 20 7946 0958"),
    ("DE", "030 901820"),
    ("DE", "030-901820"),
]
NOT_PHONES = [
    "call 4155552671",  # a bare run: indistinguishable from an id
    "created 1714567890",
    "Order #415-555-2671",
    "ref ORD-415-555-2671",
    "on 2024-05-01 at 12:30:45",
    "on 01.05.2024 or 05/01/2024",
    "host 192.168.100.200",
    "v10.0.19041.1234 and 1.2.3",
    "UUID 123e4567-e89b-12d3-a456-426614174000",
    "total $1,234.56 or 1 234 567,89 €",
    "ships in 3-5 business days",
    "555-1234",  # no area code in the US, no trunk prefix in Germany
    "isbn 978-3-16-148410-0",
    "page 12 of 345",
    "2024 2025 2026",
]


@pytest.mark.parametrize(("region", "phone"), PHONES)
def test_phone_positives_in_context(region: str, phone: str) -> None:
    assert found(PhoneDetector([region]), f"Call me at {phone} tomorrow.") == [phone]


def test_national_numbers_need_their_region() -> None:
    assert found(PhoneDetector(["US"]), "ring 020 7946 0958") == []
    assert found(PhoneDetector(["US", "GB"]), "ring 020 7946 0958") == ["020 7946 0958"]


def test_national_numbers_need_the_trunk_prefix_outside_north_america() -> None:
    # Germany's open numbering plan would take "2024 2025" for a number; written inside
    # Germany a number starts with 0, so a pair of years does not.
    assert found(PhoneDetector(["DE"]), "in 2024 2025 2026") == []
    assert found(PhoneDetector(["DE"]), "Tel. (030) 901820") == ["(030) 901820"]


def test_a_glued_group_takes_the_groups_joined_to_it_but_not_the_next_word() -> None:
    assert found(PhoneDetector(["US"]), "abc123 415-555-2671") == ["415-555-2671"]
    assert found(PhoneDetector(["US"]), "415-555-2671 555-0100x") == ["415-555-2671"]


def test_phone_after_a_time_is_found() -> None:
    assert found(PhoneDetector(["US"]), "12:30 415-555-2671") == ["415-555-2671"]


def test_phone_followed_by_a_count_is_found() -> None:
    assert found(PhoneDetector(["US"]), "415-555-2671 12 times") == ["415-555-2671"]


@pytest.mark.parametrize("text", NOT_PHONES)
def test_phone_negatives(text: str) -> None:
    assert found(PhoneDetector(["US", "GB", "DE"]), text) == []


@pytest.mark.parametrize(
    "text",
    [
        "1 " * 50_000,
        "12 " * 30_000,
        "4111 " * 30_000,
        "(1) " * 30_000,
        "9" * 100_000,
    ],
)
def test_long_runs_of_numbers_cost_linear_work(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Validations grow with the number of digit groups, not with its square: each group
    starts a bounded number of windows (counted, so the bound holds on any machine)."""
    calls = {"card": 0, "phone": 0}
    real_luhn, real_phone = digit_runs.luhn_valid, digit_runs._valid_phone

    def counted_luhn(digits: str) -> bool:
        calls["card"] += 1
        return real_luhn(digits)

    def counted_phone(candidate: str, region: str | None) -> bool:
        calls["phone"] += 1
        return real_phone(candidate, region)

    monkeypatch.setattr(digit_runs, "luhn_valid", counted_luhn)
    monkeypatch.setattr(digit_runs, "_valid_phone", counted_phone)
    list(PhoneDetector(["US", "GB"]).find(text))
    list(CardDetector().find(text))
    groups = max(1, len(re.findall(r"[0-9]+", text)))
    assert calls["card"] <= 5 * groups
    assert calls["phone"] <= 2 * 6 * groups  # two regions, at most six windows per group
