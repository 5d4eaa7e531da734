"""What every provider that calls an HTTP upstream shares: its connection pool, its
headers and how they merge, and closing.

The client is Pilothouse's own :class:`~pilothouse.runtime.http.HttpClient`, because a
model call is the hot path and it costs a fraction of aiohttp's CPU per call (see
``bench/RESULTS.md``, "HTTP client").
"""

from __future__ import annotations

from yarl import URL

from pilothouse.runtime.http import HttpClient
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
        self.timeout_s = timeout_s
        self.endpoint = URL(url)
        self._session: HttpClient | None = None

    def _client(self) -> HttpClient:
        """The connection pool, created on first use (it binds to the running loop)."""
        if self._session is None or self._session.closed:
            # A model call may be sent again on a keep-alive connection the server closed
            # as it went out: it has no effect but its cost, and the retry that would
            # follow instead waits a second (the connection error's retry_after).
            self._session = HttpClient(
                limit_per_origin=512,
                timeout_s=self.timeout_s,
                connect_timeout_s=10,
                replay_stale=True,
            )
        return self._session

    async def _headers(self, request: ModelRequest) -> dict[str, str]:
        """Configured headers, then the request's correlation headers, then auth."""
        correlation = {key.lower(): value for key, value in request.headers.items() if value}
        return {**self.headers, **correlation, **await self.auth.headers()}

    async def aclose(self) -> None:
        """Close the connection pool and the credential."""
        if self._session is not None:
            await self._session.aclose()
        await self.auth.aclose()
