"""Detectors of data written as runs of digits: payment cards and telephone numbers.

Both find runs of digit groups (``4111 1111 1111 1111``, ``+44 20 7946 0958``) and then
validate windows of whole groups, longest first from the left, so a card followed by a
year (``… 1111 2024``) or a phone number after a time (``12:30 415-555-2671``) is still
found, and a window never splits a group.

* ``card`` — 13 to 19 digits, compact or in groups of three or more separated by single
  spaces or hyphens, starting with a payment-industry digit (2 to 6) and passing the
  Luhn check. A longer unbroken digit run is not a card, whatever window of it would
  pass, and neither is one glued to letters or following a decimal point.
* ``phone`` — 7 to 15 digits that Google's libphonenumber metadata
  (``phonenumberslite``) calls a valid number: with a ``+`` country code from any
  region, without one for the policy's regions, written with the region's trunk prefix
  (``030 901820`` in Germany; North American numbers have none). A bare run of digits
  with no ``+`` and no separator is never a phone: order numbers, ids and Unix
  timestamps look exactly like that. Dates, IPv4 addresses and runs glued to ``#``,
  ``/``, ``.``, ``-``, ``@`` or a currency sign (order numbers, paths, versions,
  prices) are ruled out before the comparatively costly validation (about 35 µs a
  candidate and region).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from itertools import accumulate

import phonenumbers

from pilothouse.observability.redaction.classes import DataClass, Span
from pilothouse.observability.redaction.detectors import glued

_DIGIT_GROUP = re.compile(r"[0-9]+")

# Accepts a window ``[start, end)`` of the text (start and end on digits); returns the
# span to report, possibly widened to a leading ``+`` or ``(``, or None to reject it.
_Accept = Callable[[int, int], tuple[int, int] | None]


def _windows(
    text: str,
    run: re.Match[str],
    digits: tuple[int, int],
    max_groups: int,
    accept: _Accept,
    glue: frozenset[str] = frozenset(),
) -> Iterator[tuple[int, int]]:
    """Yield accepted windows of whole digit groups in ``run``, leftmost then longest.

    Windows hold between ``digits[0]`` and ``digits[1]`` digits in at most ``max_groups``
    groups, which bounds the validations per group: a long list of space-separated
    numbers costs linear time, not quadratic. A group glued to a letter at either end of
    the run (``555-2671abc``), or preceded by a character of ``glue`` (``#415-555``),
    belongs to some other token, and so do the groups joined to it without a space
    (``ORD-415-555-2671``), so they are left out.
    """
    groups = [m.span() for m in _DIGIT_GROUP.finditer(text, run.start(), run.end())]
    if groups and glued(text, groups[-1][1]):
        while len(groups) > 1 and " " not in text[groups[-2][1] : groups[-1][0]]:
            groups.pop()
        groups.pop()
    before = run.start() - 1
    if groups and (glued(text, before) or (before >= 0 and text[before] in glue)):
        while len(groups) > 1 and " " not in text[groups[0][1] : groups[1][0]]:
            groups.pop(0)
        groups.pop(0)
    counts = [0, *accumulate(end - start for start, end in groups)]
    min_digits, max_digits = digits
    i = 0
    while i < len(groups):
        longest = min(bisect_right(counts, counts[i] + max_digits) - 1, i + max_groups)
        following = i + 1
        for j in range(longest, i, -1):
            if counts[j] - counts[i] < min_digits:
                break
            if span := accept(groups[i][0], groups[j - 1][1]):
                yield span
                following = j
                break
        i = following


# -- cards ---------------------------------------------------------------------------------

_CARD_RUN = re.compile(r"[0-9][0-9 \-]{11,}[0-9]")
_CARD_GROUP_SEPARATOR = re.compile(r"[ \-]")
_CARD_GLUE = frozenset(".")


def luhn_valid(digits: str) -> bool:
    """Whether a string of ASCII digits passes the Luhn (mod 10) check."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


class CardDetector:
    """Payment card numbers (PANs)."""

    data_class = DataClass.CARD

    def find(self, text: str) -> Iterator[Span]:
        """Yield Luhn-valid numbers of 13 to 19 digits with a payment-industry first digit."""

        def accept(start: int, end: int) -> tuple[int, int] | None:
            groups = _CARD_GROUP_SEPARATOR.split(text[start:end])
            if len(groups) > 1 and min(map(len, groups)) < 3:
                return None  # "--", "  " or short groups: a list of numbers, not a card
            digits = "".join(groups)
            return (start, end) if digits[0] in "23456" and luhn_valid(digits) else None

        for run in _CARD_RUN.finditer(text):
            for start, end in _windows(text, run, (13, 19), 5, accept, _CARD_GLUE):
                yield Span(start, end, DataClass.CARD)


# -- phones --------------------------------------------------------------------------------

_PHONE_RUN = re.compile(r"[0-9+(][0-9 .\-()]{5,}[0-9]")
_PHONE_GLUE = frozenset("#/.-@$€£¥+")
_NOT_PHONE = re.compile(
    r"(?:19|20)[0-9]{2}[-./][0-9]{1,2}[-./][0-9]{1,2}"  # ISO date
    r"|[0-9]{1,2}[-./][0-9]{1,2}[-./](?:19|20)[0-9]{2}"  # day-month-year either way
    r"|[0-9]{1,3}(?:\.[0-9]{1,3}){3}"  # IPv4 address
)
_SEPARATORS = frozenset(" .-()")


class PhoneDetector:
    """Telephone numbers, international or national to the configured regions."""

    data_class = DataClass.PHONE

    def __init__(self, regions: Sequence[str]) -> None:
        """Args:
        regions: ISO 3166 region codes (``"US"``, ``"GB"``) whose national numbers, written
            without a country code, are recognised. Numbers with ``+`` are recognised
            regardless.
        """
        self._regions = tuple(regions)
        self._trunk_prefixes = {region: _trunk_prefix(region) for region in self._regions}

    def find(self, text: str) -> Iterator[Span]:
        """Yield every number libphonenumber considers valid (not merely possible)."""
        for run in _PHONE_RUN.finditer(text):
            digits = run.group()
            if digits[0] != "+" and _SEPARATORS.isdisjoint(digits):
                continue  # a bare digit run: an id or a timestamp, not a phone
            if _NOT_PHONE.fullmatch(digits):
                continue  # a date or an address, and any part of it is too short
            accept = partial(self._accept, text)
            for start, end in _windows(text, run, (7, 15), 6, accept, _PHONE_GLUE):
                yield Span(start, end, DataClass.PHONE)

    def _accept(self, text: str, start: int, end: int) -> tuple[int, int] | None:
        """The span of the phone number in window ``[start, end)``, or None if it is none."""
        if start > 0 and text[start - 1] in "+(":
            start -= 1
            if start > 0 and text[start - 1] == "+":
                start -= 1
        candidate = text[start:end]
        if candidate.startswith("+"):
            return (start, end) if _valid_phone(candidate, None) else None
        if _SEPARATORS.isdisjoint(candidate) or _NOT_PHONE.search(candidate):
            return None
        leading = candidate.lstrip("(")
        for region, prefix in self._trunk_prefixes.items():
            if leading.startswith(prefix) and _valid_phone(candidate, region):
                return start, end
        return None


def _trunk_prefix(region: str) -> str:
    """The prefix a national number of ``region`` is written with (``0`` in most places).

    Outside the North American plan (country code 1, whose numbers are written without
    their ``1``) a number dialled inside the country starts with its trunk prefix, so
    requiring it keeps the permissive numbering plans (Germany accepts ``2024 2025`` as
    a number) from claiming every pair of years.
    """
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if metadata is None or metadata.country_code == 1 or not metadata.national_prefix:
        return ""
    return metadata.national_prefix


def _valid_phone(candidate: str, region: str | None) -> bool:
    """Whether libphonenumber parses ``candidate`` as a valid number (in ``region``)."""
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number)
