"""What every provider that calls an HTTP upstream shares: its connection pool, its
headers and how they merge, and closing.

aiohttp is the client because it costs a fraction of httpx's CPU per call (see
``bench/RESULTS.md``), and a model call is the hot path.
"""

from __future__ import annotations

import aiohttp

from pilothouse.runtime.providers.auth import Auth
from pilothouse.runtime.providers.base import ModelRequest


class HttpUpstream:
    """A named upstream at ``url``, authenticated by ``auth``.

    Args:
        name: The provider's name (in errors and logs).
        url: The endpoint the provider posts to.
        auth: How requests authenticate.
        headers: Extra headers for every request.
        timeout_s: Total time allowed for one call, streaming included.
    """

    def __init__(
        self,
        name: str,
        url: str,
        auth: Auth,
        *,
        headers: dict[str, str] | None = None,
        timeout_s: float = 600.0,
    ) -> None:
        self.name = name
        self.url = url
        self.auth = auth
        # Names are lowercased so that configured headers, correlation headers and auth
        # merge by name: mixed case would send both ``Authorization`` and ``authorization``.
        self.headers = {
            "content-type": "application/json",
            **{key.lower(): value for key, value in (headers or {}).items()},
        }
        self.timeout = aiohttp.ClientTimeout(total=timeout_s, connect=10)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        """The connection pool, created on first use (it needs the running loop)."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=512, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=self.timeout, auto_decompress=True
            )
        return self._session

    async def _headers(self, request: ModelRequest) -> dict[str, str]:
        """Configured headers, then the request's correlation headers, then auth."""
        correlation = {key.lower(): value for key, value in request.headers.items() if value}
        return {**self.headers, **correlation, **await self.auth.headers()}

    async def aclose(self) -> None:
        """Close the connection pool and the credential."""
        if self._session is not None:
            await self._session.close()
        await self.auth.aclose()
