"""Two replicas of a server with the desk bundle, sharing one store, on a frozen clock.

Budgets count in windows aligned to the wall clock (a minute, a UTC day); a real clock
could roll a window over in the middle of a test. Both replicas' ledgers read the same
frozen instant instead, 30 s into a minute (so ``retry-after`` for a minute window is 30),
and every test works on keys and tenants of its own, so tests never share a counter.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import openai
import pytest

from pilothouse.testing import FakeUpstream, ServerThread
from pilothouse.testing.tools import RecordingToolGateway
from pilothouse.wiring import build_services
from tests.conftest import TEST_API_KEY, auth_headers, server_settings
from tests.fixtures import desk_tools

BUNDLE = Path(__file__).parents[2] / "fixtures" / "bundles" / "desk"
FROZEN_AT = 1_900_000_000 // 86_400 * 86_400 + 12 * 3600 + 30  # 12:00:30 UTC on a day
SECONDS_TO_MIDNIGHT = 12 * 3600 - 30


def _replica(settings: Any) -> ServerThread:
    gateway = RecordingToolGateway(
        {"get_ticket_status": desk_tools.get_ticket_status, "search_kb": desk_tools.search_kb}
    )
    services = build_services(settings, gateway=gateway)
    assert services.budgets is not None
    services.budgets.ledger.clock = lambda: float(FROZEN_AT)
    return ServerThread(settings, services).start()


@pytest.fixture(scope="session")
def replicas(
    store_url: str, upstream_server: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerThread, ServerThread]]:
    """Two servers on one store (one database, two connection pools, two processes' worth
    of state), serving the desk bundle."""
    base = server_settings(store_url, upstream_server, tmp_path_factory.mktemp("budgets"))
    settings = base.model_copy(update={"bundle": BUNDLE})
    first = _replica(settings)
    second = _replica(settings.model_copy(update={"port": 0}))
    yield first, second
    first.stop()
    second.stop()


@pytest.fixture
def admin(replicas: tuple[ServerThread, ServerThread]) -> Iterator[httpx.Client]:
    """Raw HTTP to the first replica with the bootstrap key."""
    with httpx.Client(headers=auth_headers(), base_url=replicas[0].root_url, timeout=30) as client:
        yield client


@pytest.fixture
def tenant() -> str:
    """A tenant of this test's own."""
    return f"t-{uuid.uuid4().hex[:10]}"


MakeKey = Callable[..., str]


@pytest.fixture
def make_key(admin: httpx.Client, tenant: str) -> MakeKey:
    """``make_key(*roles, tenant=…, limits=…)`` → a new key of this test's tenant."""

    def make(*roles: str, **body: Any) -> str:
        body.setdefault("tenant", tenant)
        answer = admin.post("/admin/v1/keys", json={"roles": list(roles or ["invoke"]), **body})
        assert answer.status_code == 201, answer.text
        key: str = answer.json()["key"]
        return key

    return make


@pytest.fixture
def sdks(
    replicas: tuple[ServerThread, ServerThread],
) -> Iterator[Callable[[str], tuple[openai.OpenAI, openai.OpenAI]]]:
    """``sdks(key)`` → the SDK on each replica with that key."""
    opened: list[openai.OpenAI] = []

    def make(key: str) -> tuple[openai.OpenAI, openai.OpenAI]:
        pair = tuple(
            openai.OpenAI(base_url=r.base_url, api_key=key, max_retries=0) for r in replicas
        )
        opened.extend(pair)
        return pair  # type: ignore[return-value]

    yield make
    for client in opened:
        client.close()


def set_tenant_limits(admin: httpx.Client, tenant: str, **limits: Any) -> dict[str, Any]:
    """PUT the tenant's limits with the bootstrap key."""
    answer = admin.put(f"/admin/v1/tenants/{tenant}/limits", json=limits)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


__all__ = ["TEST_API_KEY", "MakeKey", "set_tenant_limits"]
