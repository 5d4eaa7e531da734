"""Strings for ``pattern`` constraints: one that matches (within length bounds), one that does not.

Fixtures need a value for every patterned string, and the example generator the offline
model uses knows nothing about regular expressions. ``rstr`` (BSD licence) generates
strings from a regex; it picks repetition counts at random, so each call draws a few
candidates from a generator seeded with the pattern itself and keeps the shortest that
fits: the same contract always yields the same fixtures.
"""

from __future__ import annotations

import random
import re

import rstr

_DRAWS = 48
_MISS_CANDIDATES = ("~", "!", " ", "0", "a", "A", "-")


def matching_string(pattern: str, min_length: int = 0, max_length: int | None = None) -> str | None:
    """The shortest of a few generated strings that match ``pattern`` within the bounds.

    Returns None when ``pattern`` does not compile or no draw fits (for example a pattern
    whose shortest match is longer than ``max_length``).
    """
    try:
        compiled = re.compile(pattern)
    except re.error:
        return None
    generator = rstr.Rstr(random.Random(f"{pattern}|{min_length}|{max_length}"))
    best: str | None = None
    for _ in range(_DRAWS):
        try:
            text = generator.xeger(pattern)
        except (ValueError, IndexError, TypeError):  # constructs rstr cannot generate
            return None
        fits = min_length <= len(text) and (max_length is None or len(text) <= max_length)
        if fits and compiled.search(text) and (best is None or len(text) < len(best)):
            best = text
    return best


def missing_string(pattern: str, min_length: int = 0, max_length: int | None = None) -> str | None:
    """A string that does *not* match ``pattern`` but respects the length bounds."""
    try:
        compiled = re.compile(pattern)
    except re.error:
        return None
    length = max(min_length, 1)
    if max_length is not None and length > max_length:
        return None
    for char in _MISS_CANDIDATES:
        text = char * length
        if not compiled.search(text):
            return text
    return None
