"""How requests to an upstream authenticate.

* :class:`BearerAuth` — ``Authorization: Bearer <key>`` (OpenAI, compatible servers, and
  Azure's v1 endpoint when the key is passed as the SDK's ``api_key``).
* :class:`ApiKeyAuth` — Azure's ``api-key: <key>`` header.
* :class:`EntraAuth` — a Microsoft Entra ID bearer token from an azure-identity
  credential (``DefaultAzureCredential`` unless one is given), cached until shortly before
  it expires.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Protocol

from pilothouse.errors import UpstreamError

log = logging.getLogger(__name__)


class Auth(Protocol):
    """Produces the headers that authenticate one upstream request."""

    async def headers(self) -> dict[str, str]:
        """Headers to add to the request."""
        ...

    async def aclose(self) -> None:
        """Release any credential resources."""
        ...


class NoAuth:
    """No credentials (the offline model, or an open local server)."""

    async def headers(self) -> dict[str, str]:
        """No headers."""
        return {}

    async def aclose(self) -> None:
        """Nothing to release."""


class BearerAuth:
    """``Authorization: Bearer <key>``."""

    def __init__(self, key: str) -> None:
        self._headers = {"authorization": f"Bearer {key}"}

    async def headers(self) -> dict[str, str]:
        """The bearer header."""
        return self._headers

    async def aclose(self) -> None:
        """Nothing to release."""

    def __repr__(self) -> str:
        return "BearerAuth(<redacted>)"


class ApiKeyAuth:
    """Azure's ``api-key`` header."""

    def __init__(self, key: str) -> None:
        self._headers = {"api-key": key}

    async def headers(self) -> dict[str, str]:
        """The api-key header."""
        return self._headers

    async def aclose(self) -> None:
        """Nothing to release."""

    def __repr__(self) -> str:
        return "ApiKeyAuth(<redacted>)"


COGNITIVE_SERVICES_SCOPE = "https://cognitiveservices.azure.com/.default"
FOUNDRY_SCOPE = "https://ai.azure.com/.default"


class EntraAuth:
    """A bearer token from an azure-identity async credential, refreshed before expiry.

    The token is cached and fetched again once it is within ``REFRESH_MARGIN_S`` of its
    expiry. One fetch runs at a time, so a burst of requests at expiry asks the identity
    endpoint once (managed-identity endpoints throttle). When a refresh fails while the
    cached token is still valid, that token is used and the failure logged; without a
    valid token the request fails with a 502 ``upstream_auth_failed``.

    Args:
        scope: The token scope (Cognitive Services for Azure OpenAI, ai.azure.com for
            Foundry projects).
        credential: An object with ``async get_token(scope)`` returning an
            ``AccessToken``; ``azure.identity.aio.DefaultAzureCredential()`` when omitted.
            A credential passed in belongs to the caller, who closes it; one created here
            is closed by :meth:`aclose`.
    """

    REFRESH_MARGIN_S = 300

    def __init__(self, scope: str, credential: Any | None = None) -> None:
        self.scope = scope
        self._credential = credential
        self._owns_credential = credential is None
        self._token: str | None = None
        self._expires_on = 0.0
        self._lock = asyncio.Lock()

    def _get_credential(self) -> Any:
        if self._credential is None:
            # Imported here: azure-identity is slow to import and most setups never need it.
            from azure.identity.aio import DefaultAzureCredential

            self._credential = DefaultAzureCredential()
        return self._credential

    def _stale(self) -> bool:
        return self._token is None or time.time() > self._expires_on - self.REFRESH_MARGIN_S

    async def headers(self) -> dict[str, str]:
        """The bearer header with a valid token."""
        if self._stale():
            async with self._lock:
                if self._stale():
                    await self._refresh()
        return {"authorization": f"Bearer {self._token}"}

    async def _refresh(self) -> None:
        try:
            token = await self._get_credential().get_token(self.scope)
        except Exception as exc:
            if self._token is not None and time.time() < self._expires_on:
                log.warning(
                    "Entra ID token refresh for %s failed, using the cached one: %s",
                    self.scope,
                    type(exc).__name__,
                )
                return
            raise UpstreamError(
                f"Could not obtain a Microsoft Entra ID token for scope '{self.scope}' "
                f"({type(exc).__name__}).",
                status=502,
                code="upstream_auth_failed",
            ) from exc
        self._token, self._expires_on = token.token, float(token.expires_on)

    async def aclose(self) -> None:
        """Close the credential if this object created it."""
        close = getattr(self._credential, "close", None)
        if self._owns_credential and close is not None:
            await close()
