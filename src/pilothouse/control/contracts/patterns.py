"""Strings for ``pattern`` constraints: one that matches (within length bounds), one that does not.

Fixtures need a value for every patterned string, and the example generator the offline
model uses knows nothing about regular expressions. ``rstr`` (BSD licence) generates
strings from a regex. It draws ``*`` and ``+`` repetition counts from 0..100, which
rarely fits a ``maxLength``, so :class:`_BoundedXeger` caps the extra repetitions per
draw (0, 1, 2, ... up to rstr's own limit) and :func:`matching_string` keeps the shortest
draw that fits. The generator is seeded with the pattern and bounds, so the same
contract always yields the same fixtures.
"""

from __future__ import annotations

import random
import re

import rstr

_EXTRA_REPEATS = (0, 1, 2, 3, 5, 8, 13, 21, 34, 100)
_DRAWS_PER_CAP = 6
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
    generator = _BoundedXeger(random.Random(f"{pattern}|{min_length}|{max_length}"))
    best: str | None = None
    for draw in range(len(_EXTRA_REPEATS) * _DRAWS_PER_CAP):
        generator.extra_repeats = _EXTRA_REPEATS[draw // _DRAWS_PER_CAP]
        try:
            text = generator.xeger(pattern)
        except (ValueError, IndexError, TypeError):  # constructs rstr cannot generate
            return None
        fits = min_length <= len(text) and (max_length is None or len(text) <= max_length)
        if fits and compiled.search(text) and (best is None or len(text) < len(best)):
            best = text
    return best


class _BoundedXeger(rstr.Rstr):
    """rstr's generator with at most ``extra_repeats`` repetitions beyond each minimum."""

    extra_repeats = 100

    def _handle_repeat(self, start_range: int, end_range: int, value: str) -> str:
        # The one hook rstr has for repetition counts (rstr is pinned in pyproject.toml).
        capped = min(end_range, start_range + self.extra_repeats)
        return super()._handle_repeat(start_range, capped, value)


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
