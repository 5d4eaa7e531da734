"""Engines are built once per release and kept for the most recent ones."""

from __future__ import annotations

from pilothouse.control.policy import Catalog, EngineCache, PolicyEngine, PolicySource


def test_an_engine_is_built_once_per_key(source: PolicySource, catalog: Catalog) -> None:
    built: list[str] = []

    def build(name: str) -> PolicyEngine:
        built.append(name)
        return PolicyEngine(source, catalog)

    cache = EngineCache(size=2)
    first = cache.get("rel_1/acme", lambda: build("rel_1"))
    assert cache.get("rel_1/acme", lambda: build("rel_1")) is first
    cache.get("rel_2/acme", lambda: build("rel_2"))
    cache.get("rel_1/acme", lambda: build("rel_1"))  # rel_1 is now the most recent
    cache.get("rel_3/acme", lambda: build("rel_3"))  # drops rel_2
    assert built == ["rel_1", "rel_2", "rel_3"]
    assert len(cache) == 2
    assert "rel_1/acme" in cache and "rel_2/acme" not in cache
    cache.get("rel_2/acme", lambda: build("rel_2"))
    assert built[-1] == "rel_2"
