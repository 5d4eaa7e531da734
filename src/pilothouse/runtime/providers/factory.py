"""Builds providers from their configuration (used only by ``wiring.py``)."""

from __future__ import annotations

from typing import Any

from pilothouse.control.secrets import resolve_secret
from pilothouse.errors import InvalidRequest
from pilothouse.runtime.providers.auth import (
    COGNITIVE_SERVICES_SCOPE,
    FOUNDRY_SCOPE,
    ApiKeyAuth,
    Auth,
    BearerAuth,
    EntraAuth,
    NoAuth,
)
from pilothouse.runtime.providers.base import ModelProvider
from pilothouse.runtime.providers.breaker import BreakerProvider
from pilothouse.runtime.providers.chat_completions import ChatCompletionsProvider
from pilothouse.runtime.providers.responses_http import ResponsesHTTPProvider
from pilothouse.runtime.providers.retrying import RetryingProvider
from pilothouse.runtime.providers.router import ModelRouter, Route
from pilothouse.runtime.providers.scripted import ScriptedProvider
from pilothouse.runtime.tools.clock import Clock
from pilothouse.settings import ProviderConfig, RouteConfig

OPENAI_BASE_URL = "https://api.openai.com/v1"


def build_provider(config: ProviderConfig, credential: Any | None = None) -> ModelProvider:
    """One provider from its config. ``credential`` overrides Entra's default credential."""
    if config.kind == "scripted":
        if config.script is not None:
            return ScriptedProvider.from_file(config.script, config.name)
        return ScriptedProvider(config.name)
    base_url = config.base_url or (OPENAI_BASE_URL if config.kind == "openai" else None)
    if not base_url:
        raise InvalidRequest(f"Provider '{config.name}' needs a base_url.")
    key = resolve_secret(config.api_key.get_secret_value()) if config.api_key else None
    if config.kind == "azure":
        url, query, foundry = azure_endpoint(base_url, config.api_version)
        auth = _azure_auth(config, key, foundry, credential)
    elif config.kind == "chat-completions":
        return ChatCompletionsProvider(
            config.name,
            base_url.rstrip("/") + "/chat/completions",
            BearerAuth(key) if key else NoAuth(),
            headers=config.headers,
            timeout_s=config.timeout_s,
        )
    else:
        url, query = base_url.rstrip("/") + "/responses", {}
        auth = BearerAuth(key) if key else NoAuth()
    return ResponsesHTTPProvider(
        config.name, url, auth, query=query, headers=config.headers, timeout_s=config.timeout_s
    )


def azure_endpoint(base_url: str, api_version: str | None) -> tuple[str, dict[str, str], bool]:
    """The Responses URL, query and Foundry flag for an Azure endpoint.

    * ``https://<res>.openai.azure.com`` with a dated ``api_version`` →
      ``/openai/responses?api-version=…``;
    * ``https://<res>.openai.azure.com`` or ``…/openai/v1`` without one → the v1 API,
      ``/openai/v1/responses``;
    * a Foundry project, ``https://<acct>.services.ai.azure.com/api/projects/<p>`` →
      ``<project>/openai/v1/responses`` (a dated ``api_version`` does not apply there).

    A base URL that already ends in ``/openai`` (as copied from the portal) is taken as
    the endpoint it belongs to, not doubled into ``/openai/openai/…``.
    """
    base = base_url.rstrip("/").removesuffix("/openai")
    foundry = "/api/projects/" in base
    if base.endswith("/openai/v1"):
        url = base + "/responses"
    elif api_version and api_version not in ("v1", "preview") and not foundry:
        return base + "/openai/responses", {"api-version": api_version}, foundry
    else:
        url = base + "/openai/v1/responses"
    query = {"api-version": api_version} if api_version in ("preview",) else {}
    return url, query, foundry


def _azure_auth(config: ProviderConfig, key: str | None, foundry: bool, credential: Any) -> Auth:
    mode = config.auth if "auth" in config.model_fields_set else ("api-key" if key else "entra")
    if mode == "entra":
        scope = config.entra_scope or (FOUNDRY_SCOPE if foundry else COGNITIVE_SERVICES_SCOPE)
        return EntraAuth(scope, credential)
    if key is None:
        raise InvalidRequest(f"Provider '{config.name}' uses {mode} auth but has no api_key.")
    return ApiKeyAuth(key) if mode == "api-key" else BearerAuth(key)


def with_resilience(
    provider: ModelProvider, config: ProviderConfig, clock: Clock | None = None
) -> ModelProvider:
    """``RetryingProvider(BreakerProvider(provider))`` as ``config`` asks.

    The breaker is inside, so it sees every attempt and an open circuit ends the retries at
    once. The offline model is left bare: its answers are deterministic, so a retry would
    only repeat a scripted error more slowly.
    """
    if config.kind == "scripted":
        return provider
    if config.breaker is not None:
        provider = BreakerProvider(
            provider,
            failure_threshold=config.breaker.failure_threshold,
            reset_timeout_s=config.breaker.reset_timeout_s,
            clock=clock,
        )
    if config.retry is not None and config.retry.max_attempts > 1:
        provider = RetryingProvider(provider, **config.retry.model_dump(), clock=clock)
    return provider


def build_router(
    providers: list[ProviderConfig],
    routes: list[RouteConfig],
    credential: Any | None = None,
    clock: Clock | None = None,
) -> ModelRouter:
    """The routing table over freshly built providers, each wrapped once in its retries and
    breaker (so one circuit per provider, shared by every route and fallback chain)."""
    built = {p.name: with_resilience(build_provider(p, credential), p, clock) for p in providers}
    for route in routes:
        if route.provider not in built:
            raise InvalidRequest(f"Route '{route.match}' names an unknown provider.")
    return ModelRouter(
        built,
        [Route(r.match, r.provider) for r in routes],
        {p.name: p.models for p in providers if p.models},
    )
