"""The registry of known secret values, redacted wherever they appear, whatever their shape.

Shape detectors guess; the registry knows. Every secret Pilothouse resolves at start-up
(the provider keys, the API keys clients present, the auth headers of tools, the redaction
HMAC key itself) is added here, and the ``secret`` detector finds each occurrence of each
value by exact substring search — inside URLs, JSON strings, stack traces, anywhere —
which is the strongest guarantee the redactor gives: a registered value never survives.

Besides the value itself the registry searches for the forms it takes when embedded in
other text: URL-encoded (``quote`` and ``quote_plus``) and JSON-escaped (to two levels,
as in a serialised response holding JSON arguments). For the usual key alphabet these
forms all equal the value, so they cost nothing. An HTTP credential such as
``Bearer abc…`` or ``Basic dXNl…`` also registers its bare token.

Values shorter than :data:`MIN_SECRET_LENGTH` are refused: masking every occurrence of
``k`` or ``test`` would shred unrelated text, and a value that short protects nothing.

Matching uses ``str.find`` per needle (a two-way/bloom search in C), which on a 1 KB text
costs about 0.3 µs per needle and finds overlapping occurrences too.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Iterator
from urllib.parse import quote, quote_plus

from pilothouse.control.secrets import resolve_secret
from pilothouse.observability.redaction.classes import DataClass, Span

MIN_SECRET_LENGTH = 6
"""The shortest value the registry accepts."""

_HTTP_CREDENTIAL = re.compile(r"(?i:bearer|basic|token|digest)\s+(\S+)")


def embedded_forms(value: str) -> set[str]:
    """The forms ``value`` takes inside URLs and JSON strings, itself included.

    JSON escaping is covered to two levels, as in a stored response whose serialised text
    holds a tool call's JSON arguments as a string.
    """
    forms = {value, quote(value, safe=""), quote_plus(value, safe="")}
    for _level in range(2):
        forms |= {
            escaped
            for form in tuple(forms)
            for escaped in (
                json.dumps(form)[1:-1],
                json.dumps(form, ensure_ascii=False)[1:-1],
                json.dumps(form)[1:-1].replace("/", "\\/"),
            )
        }
    return forms


class SecretsRegistry:
    """A thread-safe, grow-only set of secret values and the detector that finds them.

    Readers never lock: :meth:`add` builds a new needle tuple and swaps it in whole, so a
    concurrent :meth:`find` sees either the old set or the new one.

    Attributes:
        version: A number that grows whenever a value is added, for caches of clean
            strings (read it, never set it). It is bumped after the new needles are in
            place, so a caller that reads the version before searching never pairs a
            search with a newer version than it used. A plain attribute, not a property:
            the redactor reads it for every container it walks (about 160 times an agent
            run), and from compiled code a property is a Python call each time.
    """

    data_class = DataClass.SECRET

    def __init__(self, values: Iterable[str] = ()) -> None:
        """Args:
        values: Secret values to register at once (see :meth:`add`).
        """
        self._lock = threading.Lock()
        self._values: frozenset[str] = frozenset()
        self._needles: tuple[str, ...] = ()
        self.version = 0
        for value in values:
            self.add(value)

    def add(self, value: str) -> bool:
        """Register a secret value; returns False when it is too short to register.

        Wiring should log (by reference name, never the value) when this returns False.
        """
        if len(value.strip()) < MIN_SECRET_LENGTH:
            return False
        new = {value}
        if credential := _HTTP_CREDENTIAL.fullmatch(value.strip()):
            token = credential.group(1)
            if len(token) >= MIN_SECRET_LENGTH:
                new.add(token)
        with self._lock:
            values = self._values | new
            needles = set().union(*(embedded_forms(v) for v in values))
            # Longest first, so a secret containing another is reported whole.
            self._needles = tuple(sorted(needles, key=len, reverse=True))
            self._values = values
            self.version += 1
        return True

    def add_reference(self, reference: str) -> bool:
        """Resolve a secret reference (``env:NAME``, ``file:PATH``, or literal) and add it.

        Raises:
            InvalidRequest: When the reference names an unset variable or unreadable file.
        """
        return self.add(resolve_secret(reference))

    def __len__(self) -> int:
        """How many distinct secret values are registered (embedded forms not counted)."""
        return len(self._values)

    def __contains__(self, value: object) -> bool:
        """Whether ``value`` is registered (as itself, not as a form of another value)."""
        return value in self._values

    def find(self, text: str) -> Iterator[Span]:
        """Yield every occurrence of every registered value and form, overlaps included."""
        for needle in self._needles:
            index = text.find(needle)
            while index != -1:
                yield Span(index, index + len(needle), DataClass.SECRET)
                index = text.find(needle, index + 1)
