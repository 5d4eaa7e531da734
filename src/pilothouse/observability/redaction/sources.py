"""Where a process's secret values come from, for its :class:`SecretsRegistry`.

The registry only protects values it knows, so start-up hands it every secret the process
resolves: provider API keys and the values of provider headers, and in each release it
loads, the headers of ``http``, ``openapi`` and ``mcp`` tool bindings and the environment
an MCP server is started with. A value given as a reference (``env:NAME``, ``file:PATH``)
is always a secret; a literal header value is one when its name is a credential
(``Authorization``, ``X-API-Key``, …). References that do not resolve are skipped here:
building the provider or adapter reports them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from pilothouse.control.secrets import resolve_secret
from pilothouse.control.tool_contract import (
    HttpBinding,
    McpBinding,
    OpenApiBinding,
    ToolContract,
)
from pilothouse.errors import InvalidRequest
from pilothouse.observability.redaction.policy import DEFAULT_CREDENTIAL_KEYS, normalise_key
from pilothouse.settings import ProviderConfig

_REFERENCE_PREFIXES = ("env:", "file:")
_CREDENTIAL_HEADERS = DEFAULT_CREDENTIAL_KEYS | {"api_key", "x_auth_token", "ocp_apim_key"}


def provider_secrets(providers: Iterable[ProviderConfig]) -> Iterator[str]:
    """The API keys and secret header values of model providers."""
    for provider in providers:
        if provider.api_key is not None:
            yield from _resolved(provider.api_key.get_secret_value(), always=True)
        yield from _header_secrets(provider.headers)


def tool_secrets(contracts: Iterable[ToolContract]) -> Iterator[str]:
    """The secret header values and environment references of tool bindings."""
    for contract in contracts:
        binding = contract.adapter
        if isinstance(binding, HttpBinding | OpenApiBinding):
            yield from _header_secrets(binding.headers)
        elif isinstance(binding, McpBinding):
            yield from _header_secrets(binding.headers)
            for value in binding.env.values():
                if value.startswith(_REFERENCE_PREFIXES):
                    yield from _resolved(value, always=True)


def _header_secrets(headers: Mapping[str, str]) -> Iterator[str]:
    for name, value in headers.items():
        credential = normalise_key(name) in _CREDENTIAL_HEADERS
        yield from _resolved(value, always=credential)


def _resolved(value: str, *, always: bool) -> Iterator[str]:
    """The value a (possible) reference resolves to, if it is to be treated as secret."""
    if not (always or value.startswith(_REFERENCE_PREFIXES)):
        return
    try:
        yield resolve_secret(value)
    except InvalidRequest:
        return
