"""Shared fixtures: network guard, stores (SQLite and PostgreSQL), the fake upstream and a
real Pilothouse server on loopback.

End-to-end tests take ``server`` (or the SDK clients built on it); that fixture is
parametrised over the stores, so every such test runs on SQLite and on PostgreSQL. When no
PostgreSQL answers, its runs are skipped with the reason shown, unless
``PILOTHOUSE_REQUIRE_POSTGRES=1`` (as in CI), which turns the skip into a failure.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from pilothouse.settings import ProviderConfig, RouteConfig, Settings
from pilothouse.testing import FakeUpstream, ServerThread

POSTGRES_URL = os.environ.get(
    "PILOTHOUSE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("PILOTHOUSE_REQUIRE_POSTGRES") == "1"

# The API key every test client presents to a test server. Tests that build their own
# clients take it from here (SDK: ``api_key=TEST_API_KEY``; raw HTTP: ``auth_headers()``).
TEST_API_KEY = "k"


def auth_headers(key: str = TEST_API_KEY) -> dict[str, str]:
    """The ``Authorization`` header for ``key``."""
    return {"Authorization": f"Bearer {key}"}


_LOOPBACK = ("127.", "::1", "localhost")
_real_connect = socket.socket.connect


@pytest.fixture(autouse=True)
def _no_outbound_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests may talk to loopback and Unix sockets only."""

    def guarded(sock: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else str(address)
        if sock.family != socket.AF_UNIX and not str(host).startswith(_LOOPBACK):
            raise RuntimeError(f"outbound network blocked in tests: {address!r}")
        return _real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


# -- stores --------------------------------------------------------------------------------


def _postgres_available() -> str | None:
    """None when PostgreSQL answers, else the reason it does not."""
    import asyncpg

    async def probe() -> None:
        conn = await asyncpg.connect(POSTGRES_URL, timeout=3)
        await conn.close()

    try:
        asyncio.run(probe())
    except Exception as exc:
        return f"PostgreSQL at {POSTGRES_URL} is not reachable ({type(exc).__name__}: {exc})"
    return None


def _admin(statement: str) -> None:
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(POSTGRES_URL)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run())


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session (dropped afterwards)."""
    reason = _postgres_available()
    if reason is not None:
        if REQUIRE_POSTGRES:
            pytest.fail(reason)
        pytest.skip(reason)
    name = f"pilothouse_test_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE DATABASE "{name}"')
    base = POSTGRES_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Each store the suite runs against."""
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        return url
    path = tmp_path_factory.mktemp("sqlite") / "pilothouse.db"
    return f"sqlite:///{path}"


# -- upstream and server -------------------------------------------------------------------


@pytest.fixture(scope="session")
def upstream_server() -> Iterator[FakeUpstream]:
    """One fake upstream for the session."""
    upstream = FakeUpstream().start_in_thread()
    yield upstream
    upstream.stop_thread()


@pytest.fixture
def upstream(upstream_server: FakeUpstream) -> FakeUpstream:
    """The fake upstream, reset for this test."""
    upstream_server.requests.clear()
    upstream_server._faults.clear()
    upstream_server.latency_s = 0.0
    upstream_server.usage = None
    return upstream_server


def server_settings(store_url: str, upstream: FakeUpstream, tmp: Path) -> Settings:
    """Settings that route ``upstream/*`` to the fake upstream as an OpenAI provider, the
    ``azure/*`` names to it as Azure, and everything else to the offline model."""
    return Settings(
        host="127.0.0.1",
        port=0,
        store=store_url,
        gc_tuning=False,  # the test process is not a server: leave its collector alone
        providers=[
            ProviderConfig(
                name="fake-openai",
                kind="openai",
                base_url=upstream.url + "/v1",
                api_key="sk-test-upstream-key",  # type: ignore[arg-type]
                retry=None,
                breaker=None,
            ),
            ProviderConfig(
                name="fake-azure",
                kind="azure",
                base_url=upstream.url,
                api_key="azure-test-key",  # type: ignore[arg-type]
                api_version="2025-04-01-preview",
                models={"azure/gpt-4o": "my-gpt4o-deployment"},
                retry=None,
                breaker=None,
            ),
        ],
        routes=[
            RouteConfig(match="upstream/*", provider="fake-openai"),
            RouteConfig(match="azure/*", provider="fake-azure"),
        ],
    )


@pytest.fixture(scope="session")
def server(
    store_url: str, upstream_server: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerThread]:
    """A real Pilothouse server on loopback, one per store."""
    settings = server_settings(store_url, upstream_server, tmp_path_factory.mktemp("server"))
    thread = ServerThread(settings).start()
    yield thread
    thread.stop()


@pytest.fixture
def client(server: ServerThread) -> Iterator[openai.OpenAI]:
    """The official synchronous SDK pointed at the server (no retries, to see errors)."""
    with openai.OpenAI(base_url=server.base_url, api_key="test-key", max_retries=0) as sdk:
        yield sdk


@pytest.fixture
async def aclient(server: ServerThread) -> AsyncIterator[openai.AsyncOpenAI]:
    """The official async SDK pointed at the server."""
    async with openai.AsyncOpenAI(
        base_url=server.base_url, api_key="test-key", max_retries=0
    ) as sdk:
        yield sdk
