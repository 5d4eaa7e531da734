"""The routing table: which provider serves a public model name, under which upstream name.

Routes are shell-style globs tried in order; the first match wins. A provider may rename
models on the way out (``models: {gpt-4o: my-deployment}``), which is how Azure
deployment names are kept out of client code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from pilothouse.errors import NotFound
from pilothouse.runtime.providers.base import ModelProvider
from pilothouse.runtime.providers.fallback import FallbackProvider


@dataclass(frozen=True, slots=True)
class Route:
    """A glob over public model names and the provider that serves them."""

    match: str
    provider: str


@dataclass(frozen=True, slots=True)
class Resolved:
    """The outcome of routing one model name."""

    provider: ModelProvider
    upstream_model: str


class ModelRouter:
    """Maps public model names to providers. Resolutions are cached per name."""

    def __init__(
        self,
        providers: dict[str, ModelProvider],
        routes: list[Route],
        renames: dict[str, dict[str, str]] | None = None,
    ) -> None:
        self.providers = providers
        self.routes = routes
        self.renames = renames or {}
        self._cache: dict[str, Resolved] = {}

    def resolve(self, model: str) -> Resolved:
        """The provider for ``model``; raises ``NotFound`` if no route matches."""
        hit = self._cache.get(model)
        if hit is not None:
            return hit
        for route in self.routes:
            if fnmatchcase(model, route.match):
                provider = self.providers[route.provider]
                upstream = self.renames.get(route.provider, {}).get(model, model)
                hit = Resolved(provider, upstream)
                if len(self._cache) < 4096:
                    self._cache[model] = hit
                return hit
        raise NotFound(
            f"The model '{model}' does not exist or you do not have access to it.",
            param="model",
            code="model_not_found",
        )

    def resolve_chain(self, models: Sequence[str]) -> Resolved:
        """The first model, falling back to the others in order (an agent's ``fallbacks``).

        The chain is a :class:`FallbackProvider` over each model's provider and upstream
        name; it is a view over providers this router owns and closes, so it is never
        closed on its own. ``upstream_model`` is the first model's.
        """
        first = self.resolve(models[0])
        if len(models) == 1:
            return first
        chain = [first, *(self.resolve(model) for model in models[1:])]
        provider = FallbackProvider(
            [(r.provider, r.upstream_model) for r in chain], name="+".join(models)
        )
        return Resolved(provider, first.upstream_model)

    def model_names(self) -> list[str]:
        """Public model names the table names explicitly (globs are not listed)."""
        names: list[str] = []
        for route in self.routes:
            if not any(ch in route.match for ch in "*?["):
                names.append(route.match)
        for renames in self.renames.values():
            names.extend(renames)
        return sorted(set(names))

    async def aclose(self) -> None:
        """Close every provider."""
        for provider in self.providers.values():
            await provider.aclose()
