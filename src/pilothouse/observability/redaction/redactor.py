"""The redactor: applies a policy to strings and to JSON values before they leave memory.

Everything Pilothouse persists, logs or exports passes through one :class:`Redactor`
built at start-up from the release's :class:`RedactionPolicy` and the process's
:class:`SecretsRegistry`. It runs every enabled detector, drops spans the allow-lists
spare, merges overlapping spans into one (labelled with the class of the longest; on a
tie, the class listed first in :data:`PRIORITY`), and replaces each with its marker.

Guarantees:

* No character of a detected span survives: overlapping spans are merged into their
  union, never partially dropped.
* Idempotence: text already holding markers redacts to itself, because markers are never
  detected again (:data:`~pilothouse.observability.redaction.classes.MARKER_PATTERN`)
  and a text is redacted until a pass finds nothing more.
* Nothing is copied when nothing matches: the same ``str``, ``dict`` or ``list`` object
  comes back, so the common case allocates nothing.

JSON walking (:meth:`Redactor.redact_json`) redacts string values and, deliberately,
object keys too — but only where a key itself holds sensitive data (a dict keyed by
email address or by API key), since keys are normally schema names and a detector finds
nothing in them. Two keys that redact to the same marker are kept apart by a ``#2``,
``#3`` … suffix rather than one overwriting the other. String values under a credential
key (``authorization``, ``password``, …, see ``RedactionPolicy.credential_keys``) are
redacted whole as ``api_key`` whatever their shape. Integers are checked through their
decimal text (a card number stored as a number is still a card number) and replaced by
the marker string if they match; floats, booleans and ``null`` are left untouched.

Strings that turned out clean are remembered (up to :data:`CLEAN_CACHE_SIZE` strings of
at most :data:`CLEAN_CACHE_MAX_LENGTH` characters, tagged with the secrets registry's
version so a newly registered secret invalidates them): JSON documents repeat the same keys
and enum values endlessly, and a run repeats its model's answer in its journal and its
stored response. The JSON walk answers such strings inline, without a call per string, and
copies a container only from its first change on.

Cost, measured on this project's shared 2-core machine (CPython 3.11, default policy,
five registered secrets, best of seven runs): a typical 1 KB response body holding
dates, amounts, order numbers and ids but nothing sensitive takes about 37 µs through
``redact_text`` (serialised) and 42 µs through ``redact_json`` (parsed) the first time;
the same body with an email address and a phone number in it takes about 120 µs,
libphonenumber's validation and the confirming second pass included. The journal entries
of an agent run (about 720 characters of JSON each, mostly keys and values seen before)
take about 13 µs each.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any, NamedTuple

from pilothouse.control.secrets import resolve_secret
from pilothouse.errors import InvalidRequest
from pilothouse.observability.redaction.classes import (
    MARKER_PATTERN,
    DataClass,
    RedactionMode,
    Span,
    hash_marker,
    mask_marker,
)
from pilothouse.observability.redaction.detectors import (
    ApiKeyDetector,
    Detector,
    EmailDetector,
    IbanDetector,
)
from pilothouse.observability.redaction.digit_runs import CardDetector, PhoneDetector
from pilothouse.observability.redaction.policy import RedactionPolicy, normalise_key
from pilothouse.observability.redaction.secrets_registry import MIN_SECRET_LENGTH, SecretsRegistry

PRIORITY: tuple[DataClass, ...] = (
    DataClass.SECRET,
    DataClass.API_KEY,
    DataClass.CARD,
    DataClass.IBAN,
    DataClass.PHONE,
    DataClass.EMAIL,
)
"""Which class labels a merged span when two of its members are equally long."""

SHORTEST_MATCH = min(MIN_SECRET_LENGTH, len("a@b.cd"))
"""No detector matches a string shorter than this (the shortest email, the shortest
registered secret), so such strings are returned at once."""

CLEAN_CACHE_MAX_LENGTH = 1024
"""The longest string the clean-string cache remembers."""

CLEAN_CACHE_SIZE = 4096
"""How many clean strings are remembered before the cache starts afresh."""

MAX_PASSES = 8
"""A safeguard on the passes of :meth:`Redactor.redact_text` (two suffice in practice)."""

MIN_HASH_KEY_LENGTH = 16
"""The shortest HMAC key accepted for ``hash`` mode."""

# Integers wider than this (39 digits) hold no card number, and converting a huge one to
# text is slow (and refused past 4,300 digits).
_MAX_INT_BITS = 128

# Integers of fewer digits than the shortest match (sign included) hold nothing.
_SHORT_INT = 10 ** (SHORTEST_MATCH - 2)

_OPAQUE_ID = re.compile(
    r"(?:(?:resp|msg|fc|fco|call|rs|conv|item|mcp|mcpl|mcpr|fb|req|run|appr)_|ph-)"
    r"[0-9a-f]{20,128}"
)
"""The shape of the ids Pilothouse mints (``resp_``, ``call_``, ``mcp_``… and 48 hex
digits; idempotency keys ``ph-`` and 40). No shape detector can fire on such a string:
no ``@``, no capitals, no separator inside the hex, none of these prefixes opens a
credential shape (``sk-``, ``phk_``, ``ghp_`` …), and any run of decimal digits in it is
glued to a hex letter or to the prefix's ``_``, or it is longer than a card number. So
only registered secret values are looked for; a property test checks that the shape
detectors find nothing in such strings."""

# JSON leaves the walk never changes (integers are checked through their text).
_LEAVES = frozenset({float, bool})

_RANK = {data_class: rank for rank, data_class in enumerate(PRIORITY)}


class _Found(Counter[DataClass]):
    """A Counter made without ``Counter.__init__`` (a Python-level ``update`` call): one is
    made per redaction call, and a fresh one is always empty."""

    __init__ = dict.__init__


class Redacted(NamedTuple):
    """A redacted string and how many spans of each class were replaced in it."""

    text: str
    found: Counter[DataClass]


class RedactedJSON(NamedTuple):
    """A redacted JSON value and how many spans of each class were replaced in it."""

    value: Any
    found: Counter[DataClass]


class Redactor:
    """Applies one redaction policy; thread-safe and cheap to call on every payload."""

    def __init__(
        self, policy: RedactionPolicy | None = None, secrets: SecretsRegistry | None = None
    ) -> None:
        """Build the detectors the policy enables and resolve the hash key.

        Args:
            policy: The policy to apply; the default masks every class.
            secrets: The registry of known secret values; a new empty one when omitted.
                The resolved hash key is added to it.

        Raises:
            InvalidRequest: When the policy's ``hash_key`` reference cannot be resolved or
                the key is shorter than :data:`MIN_HASH_KEY_LENGTH`.
        """
        self.policy = policy or RedactionPolicy()
        self.secrets = secrets if secrets is not None else SecretsRegistry()
        self._hash_key = b""
        if self.policy.hash_key:
            key = resolve_secret(self.policy.hash_key)
            if len(key) < MIN_HASH_KEY_LENGTH:
                raise InvalidRequest(
                    f"The redaction hash key must have at least {MIN_HASH_KEY_LENGTH} characters;"
                    " a short key lets anyone recompute the hash of a guessed email or phone.",
                    param="redaction.hash_key",
                )
            self.secrets.add(key)
            self._hash_key = key.encode()
        candidates: tuple[Detector, ...] = (
            self.secrets,
            ApiKeyDetector(),
            CardDetector(),
            IbanDetector(),
            PhoneDetector(self.policy.phone_regions),
            EmailDetector(),
        )
        self._detectors = tuple(
            d for d in candidates if self.policy.mode(d.data_class) is not RedactionMode.OFF
        )
        # What an opaque id is checked for: only known secret values (see _OPAQUE_ID).
        self._by_value = tuple(d for d in self._detectors if d.data_class is DataClass.SECRET)
        self._clean: dict[str, int] = {}
        # Object keys known clean and not credential keys, by secrets version.
        self._plain_keys: dict[str, int] = {}

    def redact_text(self, text: str) -> Redacted:
        """Replace every sensitive span of ``text`` by its marker."""
        found = _Found()
        return Redacted(self._redact(text, found), found)

    def redact_json(self, value: Any) -> RedactedJSON:
        """Redact every string (and sensitive key) of a JSON-like value, at any depth.

        Dicts, lists and tuples are walked (tuples come back as lists); the input is never
        modified, and containers in which nothing changed are returned as they are.
        """
        found = _Found()
        return RedactedJSON(self._walk(value, found), found)

    # -- internals ---------------------------------------------------------------------

    def _redact(self, text: str, found: Counter[DataClass]) -> str:
        """Redact ``text`` to a fixpoint, counting what was replaced into ``found``.

        A marker changes the context of its neighbours (``jane@x.com(415) 555-2671``: the
        number is glued to a letter until the address becomes ``[REDACTED:email]``), so
        a productive pass is followed by another until one finds nothing. Each pass
        shrinks the text outside markers, so this ends; the bound is only a safeguard.
        """
        for _pass in range(MAX_PASSES):
            redacted = self._pass(text, found)
            if redacted is text:
                return text
            text = redacted
        return text

    def _pass(self, text: str, found: Counter[DataClass]) -> str:
        """One pass of detection and replacement; ``text`` itself when nothing is found."""
        if len(text) < SHORTEST_MATCH:
            return text
        cacheable = len(text) <= CLEAN_CACHE_MAX_LENGTH
        version = self.secrets.version
        if cacheable and self._clean.get(text) == version:
            return text
        detectors = self._by_value if _OPAQUE_ID.fullmatch(text) else self._detectors
        spans = self._kept(text, [s for d in detectors for s in d.find(text)])
        if not spans:
            if cacheable:
                if len(self._clean) >= CLEAN_CACHE_SIZE:
                    self._clean = {}
                self._clean[text] = version
            return text
        pieces: list[str] = []
        position = 0
        for span in _merge(spans):
            pieces += (text[position : span.start], self._marker(span, text))
            found[span.data_class] += 1
            position = span.end
        pieces.append(text[position:])
        return "".join(pieces)

    def _kept(self, text: str, spans: list[Span]) -> list[Span]:
        """The spans that are neither spared by the allow-lists nor inside a marker."""
        if not spans:
            return []
        markers = [m.span() for m in MARKER_PATTERN.finditer(text)] if "[" in text else []
        return [
            span
            for span in spans
            if not self.policy.allows(span.data_class, text[span.start : span.end])
            and not any(start <= span.start and span.end <= end for start, end in markers)
        ]

    def _marker(self, span: Span, text: str) -> str:
        """The replacement of ``span`` under the policy's mode for its class."""
        if self.policy.mode(span.data_class) is RedactionMode.HASH:
            value = text[span.start : span.end].encode()
            return hash_marker(
                span.data_class, hmac.new(self._hash_key, value, hashlib.sha256).hexdigest()
            )
        return mask_marker(span.data_class)

    def _whole(self, data_class: DataClass, value: str) -> str:
        """The marker that replaces all of ``value`` as data of ``data_class``."""
        return self._marker(Span(0, len(value), data_class), value)

    def _walk(self, value: Any, found: Counter[DataClass]) -> Any:
        """Redact one JSON value, returning the same object when nothing changed."""
        kind = type(value)
        if kind is str:
            return self._redact(value, found)
        if kind is dict:
            return self._walk_object(value, found)
        if kind is list or kind is tuple:
            return self._walk_array(value, found, kind is tuple)
        if kind is int:
            return self._walk_int(value, found)
        if kind is not bool and isinstance(value, str | dict | list | tuple | int):
            return self._walk(_plain(value), found)  # subclasses: str enums, OrderedDict …
        return value

    def _walk_array(self, value: Any, found: Counter[DataClass], is_tuple: bool) -> Any:
        """Redact a list or tuple; a tuple always comes back as a new list."""
        clean, version = self._clean, self.secrets.version
        items: list[Any] | None = list(value) if is_tuple else None
        for index, item in enumerate(value):
            if type(item) is str and (len(item) < SHORTEST_MATCH or clean.get(item) == version):
                continue
            new_item = self._walk(item, found)
            if new_item is not item:
                if items is None:
                    items = list(value)
                items[index] = new_item
        return value if items is None else items

    def _walk_int(self, value: Any, found: Counter[DataClass]) -> Any:
        """An integer, or its decimal text redacted when that text holds something.

        ``value`` is typed ``Any`` on purpose: compiled (``make native``), an ``int``
        parameter is unboxed, and the integer handed back would be a new object, not
        ``value`` itself — and a container is copied when an item is not returned as is."""
        if -_SHORT_INT < value < _SHORT_INT or value.bit_length() > _MAX_INT_BITS:
            return value
        text = str(value)
        redacted = self._redact(text, found)
        return value if redacted is text else redacted

    def _walk_object(self, value: dict[Any, Any], found: Counter[DataClass]) -> dict[Any, Any]:
        """Redact an object's values (credential keys whole) and any sensitive keys.

        Keys and strings already known clean (too short, or remembered) are answered
        inline, and the object is copied only from its first change on: the common case
        calls nothing per key and allocates nothing.
        """
        clean, plain_keys, version = self._clean, self._plain_keys, self.secrets.version
        result: dict[Any, Any] | None = None
        for key, item in value.items():
            new_key, credential = key, False
            if type(key) is str and plain_keys.get(key) != version:
                new_key, credential = self._key(key, found, version)
            kind = type(item)
            if credential:
                new_item = self._credential(item, found)
            elif kind is str:
                known = len(item) < SHORTEST_MATCH or clean.get(item) == version
                new_item = item if known else self._redact(item, found)
            elif item is None or kind in _LEAVES:
                new_item = item
            elif kind is dict:
                new_item = self._walk_object(item, found)
            else:
                new_item = self._walk(item, found)
            if result is None:
                if new_key is key and new_item is item:
                    continue
                result = _before(value, key)
            if type(new_key) is str and new_key in result:
                new_key = _unique(new_key, result)
            result[new_key] = new_item
        return value if result is None else result

    def _key(self, key: str, found: Counter[DataClass], version: int) -> tuple[str, bool]:
        """An object key redacted, and whether it is a credential key; a key that is
        neither sensitive nor a credential key is remembered as plain."""
        new_key = self._redact(key, found)
        credential = normalise_key(key) in self.policy.credential_keys
        if new_key is key and not credential:
            if len(self._plain_keys) >= CLEAN_CACHE_SIZE:
                self._plain_keys = {}
            self._plain_keys[key] = version
        return new_key, credential

    def _credential(self, item: Any, found: Counter[DataClass]) -> Any:
        """The value under a credential key: a string is redacted whole as ``api_key``
        (unless it already is a marker); anything else is walked."""
        if type(item) is str and item and not MARKER_PATTERN.fullmatch(item):
            found[DataClass.API_KEY] += 1
            return self._whole(DataClass.API_KEY, item)
        return self._walk(item, found)


def _plain(value: str | dict[Any, Any] | list[Any] | tuple[Any, ...] | int) -> Any:
    """A subclass instance (a str enum, an OrderedDict) as its plain JSON base type."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, int):
        return int(value)
    return list(value)


def _merge(spans: list[Span]) -> list[Span]:
    """Merge overlapping spans into their union, labelled by the longest member."""
    spans.sort(key=lambda span: (span.start, -span.end))
    merged: list[Span] = []
    start, end, label, label_length = -1, -1, DataClass.SECRET, -1
    for span in spans:
        if span.start < end:
            end = max(end, span.end)
        else:
            if label_length >= 0:
                merged.append(Span(start, end, label))
            start, end, label_length = span.start, span.end, -1
        length = span.end - span.start
        if length > label_length or (
            length == label_length and _RANK[span.data_class] < _RANK[label]
        ):
            label, label_length = span.data_class, length
    if label_length >= 0:
        merged.append(Span(start, end, label))
    return merged


def _before(value: dict[Any, Any], key: Any) -> dict[Any, Any]:
    """A copy of ``value``'s members that come before ``key`` (the unchanged prefix)."""
    prefix: dict[Any, Any] = {}
    for done_key, done_item in value.items():
        if done_key is key:
            break
        prefix[done_key] = done_item
    return prefix


def _unique(key: str, taken: dict[Any, Any]) -> str:
    """``key``, or ``key#2``, ``key#3`` … whichever is not yet a key of ``taken``."""
    if key not in taken:
        return key
    suffix = 2
    while f"{key}#{suffix}" in taken:
        suffix += 1
    return f"{key}#{suffix}"


def _compiled() -> Any:
    """The compiled :class:`Redactor` when one was built from exactly this source
    (``tools/build_native.py``), else None: a build an edit has made stale is ignored.
    ``PILOTHOUSE_PURE_PYTHON=1`` ignores it too."""
    if os.environ.get("PILOTHOUSE_PURE_PYTHON"):
        return None
    try:
        native = importlib.import_module(f"{__package__}._redactor_native")
    except ImportError:
        return None
    digest = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
    if getattr(native, "NATIVE_SOURCE_DIGEST", None) != digest:
        return None
    return native.Redactor


PURE_REDACTOR = Redactor
"""The pure Python class, whichever one ``Redactor`` names."""

if __name__ == "pilothouse.observability.redaction.redactor":  # not in the compiled copy
    # The same class compiled by mypyc: the same source, so the same behaviour, in about
    # half the time. A name the type checker sees as the class above.
    globals()["Redactor"] = _compiled() or Redactor
