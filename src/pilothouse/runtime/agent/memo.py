"""Values worked out once per object that never changes, kept by the object's identity.

A policy engine hands out the same :class:`~pilothouse.control.policy.Decision` for a
request it answered before, and every run of an agent holds the same frozen definition:
what is derived from them (a decision's journal event, a definition's dump) can be made
once. Hashing such objects would cost more than deriving the value again, so the key is
the object's ``id``; the memo keeps the object itself alive beside its value, so that id
cannot name another object meanwhile. Values are shared: callers only read them.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class IdentityMemo(Generic[V]):
    """At most ``limit`` values, by (object identity, detail); full, it starts afresh."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._kept: dict[tuple[int, Hashable], tuple[object, V]] = {}

    def get(self, source: object, detail: Hashable, make: Callable[[], V]) -> V:
        """The value for ``source`` and ``detail``, made by ``make`` the first time."""
        key = (id(source), detail)
        known = self._kept.get(key)
        if known is None or known[0] is not source:
            if len(self._kept) >= self.limit:
                self._kept.clear()
            known = self._kept[key] = (source, make())
        return known[1]
