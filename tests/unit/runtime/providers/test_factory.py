"""``factory``: Azure endpoint shapes, and which URL and auth each provider config gets."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from pilothouse.errors import InvalidRequest
from pilothouse.runtime.providers.auth import (
    COGNITIVE_SERVICES_SCOPE,
    FOUNDRY_SCOPE,
    ApiKeyAuth,
    BearerAuth,
    EntraAuth,
    NoAuth,
)
from pilothouse.runtime.providers.factory import azure_endpoint, build_provider, build_router
from pilothouse.runtime.providers.responses_http import ResponsesHTTPProvider
from pilothouse.settings import ProviderConfig, RouteConfig

RES = "https://res.openai.azure.com"
PROJECT = "https://acct.services.ai.azure.com/api/projects/myproj"
DATED = "2025-04-01-preview"


@pytest.mark.parametrize(
    ("base_url", "api_version", "url", "query", "foundry"),
    [
        pytest.param(
            RES, DATED, f"{RES}/openai/responses", {"api-version": DATED}, False, id="dated"
        ),
        pytest.param(
            f"{RES}/",
            DATED,
            f"{RES}/openai/responses",
            {"api-version": DATED},
            False,
            id="dated-trailing-slash",
        ),
        pytest.param(
            f"{RES}/openai",
            DATED,
            f"{RES}/openai/responses",
            {"api-version": DATED},
            False,
            id="dated-base-ends-in-openai",
        ),
        pytest.param(RES, None, f"{RES}/openai/v1/responses", {}, False, id="v1-no-version"),
        pytest.param(RES, "v1", f"{RES}/openai/v1/responses", {}, False, id="v1-named"),
        pytest.param(
            RES,
            "preview",
            f"{RES}/openai/v1/responses",
            {"api-version": "preview"},
            False,
            id="v1-preview",
        ),
        pytest.param(
            f"{RES}/openai/v1/", None, f"{RES}/openai/v1/responses", {}, False, id="v1-base"
        ),
        pytest.param(
            f"{RES}/openai/v1",
            DATED,
            f"{RES}/openai/v1/responses",
            {},
            False,
            id="v1-base-ignores-dated",
        ),
        pytest.param(
            f"{RES}/openai/",
            None,
            f"{RES}/openai/v1/responses",
            {},
            False,
            id="v1-base-ends-in-openai",
        ),
        pytest.param(PROJECT, None, f"{PROJECT}/openai/v1/responses", {}, True, id="foundry"),
        pytest.param(
            f"{PROJECT}/",
            DATED,
            f"{PROJECT}/openai/v1/responses",
            {},
            True,
            id="foundry-ignores-dated",
        ),
        pytest.param(
            f"{PROJECT}/openai/v1",
            None,
            f"{PROJECT}/openai/v1/responses",
            {},
            True,
            id="foundry-v1-base",
        ),
        pytest.param(
            PROJECT,
            "preview",
            f"{PROJECT}/openai/v1/responses",
            {"api-version": "preview"},
            True,
            id="foundry-preview",
        ),
    ],
)
def test_azure_endpoint(
    base_url: str, api_version: str | None, url: str, query: dict[str, str], foundry: bool
) -> None:
    assert azure_endpoint(base_url, api_version) == (url, query, foundry)


def http_provider(credential: Any | None = None, **config: Any) -> ResponsesHTTPProvider:
    """``build_provider`` for ``config``, checked to be the HTTP provider."""
    provider = build_provider(ProviderConfig.model_validate({"name": "p", **config}), credential)
    assert isinstance(provider, ResponsesHTTPProvider)
    return provider


async def test_openai_defaults_to_the_public_api_with_bearer_auth() -> None:
    provider = http_provider(kind="openai", api_key="sk-1")
    assert provider.url == "https://api.openai.com/v1/responses"
    assert isinstance(provider.auth, BearerAuth)
    assert await provider.auth.headers() == {"authorization": "Bearer sk-1"}


async def test_api_key_reference_is_resolved(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROVIDER_TEST_KEY", "sk-from-env")
    provider = http_provider(kind="openai", base_url="http://h/v1", api_key="env:PROVIDER_TEST_KEY")
    assert await provider.auth.headers() == {"authorization": "Bearer sk-from-env"}


def test_openai_compatible_without_key_has_no_auth() -> None:
    provider = http_provider(
        kind="openai-compatible", base_url="http://localhost:8000/v1/", headers={"X-A": "1"}
    )
    assert provider.url == "http://localhost:8000/v1/responses"
    assert isinstance(provider.auth, NoAuth)
    assert provider.headers["x-a"] == "1"


def test_openai_compatible_needs_a_base_url() -> None:
    with pytest.raises(InvalidRequest, match="needs a base_url"):
        http_provider(kind="openai-compatible")


async def test_azure_with_key_uses_the_api_key_header() -> None:
    provider = http_provider(kind="azure", base_url=RES, api_key="k", api_version=DATED)
    assert (provider.url, provider.query) == (f"{RES}/openai/responses", {"api-version": DATED})
    assert isinstance(provider.auth, ApiKeyAuth)
    assert await provider.auth.headers() == {"api-key": "k"}


async def test_azure_bearer_auth_when_asked() -> None:
    provider = http_provider(kind="azure", base_url=RES, api_key="k", auth="bearer")
    assert await provider.auth.headers() == {"authorization": "Bearer k"}


def test_azure_api_key_auth_without_a_key_is_a_config_error() -> None:
    with pytest.raises(InvalidRequest, match="has no api_key"):
        http_provider(kind="azure", base_url=RES, auth="api-key")


@pytest.mark.parametrize(
    ("base_url", "entra_scope", "scope"),
    [
        pytest.param(RES, None, COGNITIVE_SERVICES_SCOPE, id="azure-openai"),
        pytest.param(PROJECT, None, FOUNDRY_SCOPE, id="foundry"),
        pytest.param(RES, "api://custom/.default", "api://custom/.default", id="override"),
    ],
)
def test_azure_without_key_uses_entra(base_url: str, entra_scope: str | None, scope: str) -> None:
    credential = object()
    provider = http_provider(credential, kind="azure", base_url=base_url, entra_scope=entra_scope)
    assert isinstance(provider.auth, EntraAuth)
    assert provider.auth.scope == scope
    assert provider.auth._credential is credential


def test_router_rejects_a_route_to_an_unknown_provider() -> None:
    providers = [ProviderConfig(name="scripted", kind="scripted")]
    with pytest.raises(InvalidRequest, match="unknown provider"):
        build_router(providers, [RouteConfig(match="*", provider="missing")])


def test_router_renames_models_per_provider() -> None:
    providers = [
        ProviderConfig(
            name="az",
            kind="azure",
            base_url=RES,
            api_key=SecretStr("k"),
            models={"azure/gpt-4o": "deploy-1"},
        ),
    ]
    router = build_router(providers, [RouteConfig(match="azure/*", provider="az")])
    assert router.resolve("azure/gpt-4o").upstream_model == "deploy-1"
    assert router.resolve("azure/other").upstream_model == "azure/other"
