"""A fake Microsoft Entra ID credential for tests of Azure providers.

It behaves like an ``azure.identity.aio`` credential (``get_token(*scopes)`` returning an
``AccessToken``), records the scopes it was asked for, and can be slow, fail, or hand out
tokens that are about to expire. Pass it as ``build_services(..., azure_credential=...)``.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from azure.core.credentials import AccessToken


@dataclass
class FakeCredential:
    """An azure-identity-style async credential.

    Attributes:
        token: The token to return; None returns ``tok-<n>`` for the n-th request.
        lifetime_s: Seconds until each token expires.
        delay_s: How long each request takes.
        fail: Raise instead of returning a token.
        scopes: Every scope asked for, in order.
        closed: Whether ``close`` was called.
    """

    token: str | None = None
    lifetime_s: float = 3600.0
    delay_s: float = 0.0
    fail: bool = False
    scopes: list[str] = field(default_factory=list)
    closed: bool = False

    async def get_token(self, *scopes: str, **_options: Any) -> AccessToken:
        """A token for ``scopes`` (or an error when ``fail`` is set)."""
        self.scopes.extend(scopes)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.fail:
            raise RuntimeError("identity endpoint unavailable")
        value = self.token if self.token is not None else f"tok-{len(self.scopes)}"
        return AccessToken(value, int(time.time() + self.lifetime_s))

    async def close(self) -> None:
        """Record the close."""
        self.closed = True
