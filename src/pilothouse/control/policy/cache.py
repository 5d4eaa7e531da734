"""Policy engines kept per release, so policies are parsed once and not per request.

Building a :class:`~.engine.PolicyEngine` parses the release's policies and builds its
entity graph (a few milliseconds); a decision costs tens of microseconds. The runtime
therefore asks an :class:`EngineCache` for the engine of the release a request runs on:
the first request after a publish or promote builds it, the rest look it up. Releases
are immutable, so an entry never goes stale; old ones are dropped least recently used.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from pilothouse.control.policy.engine import PolicyEngine


class EngineCache:
    """Engines by key, least recently used dropped beyond ``size``.

    Args:
        size: How many engines to keep (one per live release and tenant is enough).
    """

    def __init__(self, size: int = 16) -> None:
        self._size = size
        self._engines: OrderedDict[str, PolicyEngine] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, build: Callable[[], PolicyEngine]) -> PolicyEngine:
        """The engine for ``key`` (``"<release hash>/<tenant>"``), calling ``build()``
        only the first time (and again after the entry was dropped)."""
        with self._lock:
            engine = self._engines.get(key)
            if engine is not None:
                self._engines.move_to_end(key)
                return engine
        engine = build()  # outside the lock: two racing builds of one key are harmless
        with self._lock:
            engine = self._engines.setdefault(key, engine)
            if len(self._engines) > self._size:
                self._engines.popitem(last=False)
        return engine

    def __len__(self) -> int:
        return len(self._engines)

    def __contains__(self, key: object) -> bool:
        return key in self._engines
