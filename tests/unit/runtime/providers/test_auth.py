"""``auth``: static headers, and the Entra ID token cache (expiry, bursts, failures, ownership)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from azure.core.credentials import AccessToken

from pilothouse.errors import UpstreamError
from pilothouse.runtime.providers.auth import ApiKeyAuth, BearerAuth, EntraAuth

SCOPE = "https://cognitiveservices.azure.com/.default"


@dataclass
class FakeCredential:
    """An azure-identity-style async credential with scripted tokens and failures."""

    lifetime_s: float = 3600.0
    delay_s: float = 0.0
    fail: bool = False
    scopes: list[str] = field(default_factory=list)
    closed: bool = False

    async def get_token(self, *scopes: str, **_options: Any) -> AccessToken:
        """``tok-<n>`` for the n-th call, or an error when ``fail`` is set."""
        self.scopes.extend(scopes)
        await asyncio.sleep(self.delay_s)
        if self.fail:
            raise RuntimeError("identity endpoint unavailable")
        return AccessToken(f"tok-{len(self.scopes)}", int(time.time() + self.lifetime_s))

    async def close(self) -> None:
        """Record the close."""
        self.closed = True


async def test_static_headers_and_redacted_repr() -> None:
    assert await BearerAuth("sk-secret").headers() == {"authorization": "Bearer sk-secret"}
    assert await ApiKeyAuth("az-secret").headers() == {"api-key": "az-secret"}
    assert "secret" not in repr(BearerAuth("sk-secret")) + repr(ApiKeyAuth("az-secret"))


async def test_token_is_cached_while_far_from_expiry() -> None:
    credential = FakeCredential()
    auth = EntraAuth(SCOPE, credential)
    assert await auth.headers() == {"authorization": "Bearer tok-1"}
    assert await auth.headers() == {"authorization": "Bearer tok-1"}
    assert credential.scopes == [SCOPE]


async def test_token_is_refreshed_within_the_margin() -> None:
    credential = FakeCredential(lifetime_s=EntraAuth.REFRESH_MARGIN_S - 10)
    auth = EntraAuth(SCOPE, credential)
    assert await auth.headers() == {"authorization": "Bearer tok-1"}
    assert await auth.headers() == {"authorization": "Bearer tok-2"}


async def test_a_burst_at_expiry_fetches_one_token() -> None:
    credential = FakeCredential(delay_s=0.01)
    auth = EntraAuth(SCOPE, credential)
    headers = await asyncio.gather(*(auth.headers() for _ in range(20)))
    assert {h["authorization"] for h in headers} == {"Bearer tok-1"}
    assert credential.scopes == [SCOPE]


async def test_failure_without_a_valid_token_is_an_upstream_error() -> None:
    auth = EntraAuth(SCOPE, FakeCredential(fail=True))
    with pytest.raises(UpstreamError) as caught:
        await auth.headers()
    assert (caught.value.status, caught.value.code) == (502, "upstream_auth_failed")
    assert SCOPE in caught.value.message


async def test_failed_refresh_keeps_a_still_valid_token() -> None:
    credential = FakeCredential(lifetime_s=120)  # valid, but inside the refresh margin
    auth = EntraAuth(SCOPE, credential)
    await auth.headers()
    credential.fail = True
    assert await auth.headers() == {"authorization": "Bearer tok-1"}
    assert len(credential.scopes) == 2  # it did try


async def test_failed_refresh_of_an_expired_token_raises() -> None:
    credential = FakeCredential(lifetime_s=-1)
    auth = EntraAuth(SCOPE, credential)
    await auth.headers()
    credential.fail = True
    with pytest.raises(UpstreamError):
        await auth.headers()


async def test_a_given_credential_is_left_to_its_owner() -> None:
    credential = FakeCredential()
    auth = EntraAuth(SCOPE, credential)
    await auth.headers()
    await auth.aclose()
    assert not credential.closed


async def test_a_default_credential_is_closed_with_the_auth(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    created: list[FakeCredential] = []

    def default_credential() -> FakeCredential:
        created.append(FakeCredential())
        return created[-1]

    monkeypatch.setattr("azure.identity.aio.DefaultAzureCredential", default_credential)
    auth = EntraAuth(SCOPE)
    assert await auth.headers() == {"authorization": "Bearer tok-1"}
    await auth.aclose()
    assert [c.closed for c in created] == [True]
