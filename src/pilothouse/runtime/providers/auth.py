"""How requests to an upstream authenticate.

* :class:`BearerAuth` — ``Authorization: Bearer <key>`` (OpenAI, compatible servers, and
  Azure's v1 endpoint when the key is passed as the SDK's ``api_key``).
* :class:`ApiKeyAuth` — Azure's ``api-key: <key>`` header.
* :class:`EntraAuth` — a Microsoft Entra ID bearer token from an azure-identity
  credential (``DefaultAzureCredential`` unless one is given), cached until shortly before
  it expires.
"""

from __future__ import annotations

import time
from typing import Any, Protocol


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

    Args:
        scope: The token scope (Cognitive Services for Azure OpenAI, ai.azure.com for
            Foundry projects).
        credential: An object with ``async get_token(scope)`` returning an
            ``AccessToken``; ``azure.identity.aio.DefaultAzureCredential()`` when omitted.
    """

    REFRESH_MARGIN_S = 300

    def __init__(self, scope: str, credential: Any | None = None) -> None:
        self.scope = scope
        self._credential = credential
        self._token: str | None = None
        self._expires_on = 0.0

    def _get_credential(self) -> Any:
        if self._credential is None:
            from azure.identity.aio import DefaultAzureCredential

            self._credential = DefaultAzureCredential()
        return self._credential

    async def headers(self) -> dict[str, str]:
        """The bearer header with a valid token."""
        if self._token is None or time.time() > self._expires_on - self.REFRESH_MARGIN_S:
            token = await self._get_credential().get_token(self.scope)
            self._token, self._expires_on = token.token, float(token.expires_on)
        return {"authorization": f"Bearer {self._token}"}

    async def aclose(self) -> None:
        """Close the credential if it has a close method."""
        close = getattr(self._credential, "close", None)
        if close is not None:
            await close()
