"""A server for the ``guarded`` bundle: a hijacked model, policies, approvals, and tools
that only record their calls (the ledger the injection suite asserts on)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import openai
import pytest

from pilothouse.runtime.providers.router import ModelRouter, Route
from pilothouse.settings import Settings
from pilothouse.testing import FakeUpstream, HijackedModel, RecordingToolGateway, ServerThread
from pilothouse.wiring import Services, build_services
from tests.conftest import TEST_API_KEY, auth_headers, server_settings
from tests.fixtures import guarded_tools

BUNDLE = Path(__file__).parents[2] / "fixtures" / "bundles" / "guarded"
TOOLS: dict[str, Callable[..., Any]] = {
    name: getattr(guarded_tools, name)
    for name in ("lookup", "search_docs", "refund", "delete_account", "add_note", "wire_money")
} | {"kb_article": guarded_tools.lookup}


def guarded_settings(store_url: str, upstream: FakeUpstream, tmp: Path) -> Settings:
    """Settings serving the guarded bundle."""
    return server_settings(store_url, upstream, tmp).model_copy(update={"bundle": BUNDLE})


def guarded_services(settings: Settings, gateway: RecordingToolGateway) -> Services:
    """Services whose every model is the hijacked one."""
    router = ModelRouter({"hijacked": HijackedModel()}, [Route("*", "hijacked")])
    return build_services(settings, router=router, gateway=gateway)


@pytest.fixture(scope="session")
def ledger() -> RecordingToolGateway:
    """Every tool call that was executed, across the session."""
    return RecordingToolGateway(dict(TOOLS))


@pytest.fixture(scope="session")
def guarded_server(
    store_url: str,
    upstream_server: FakeUpstream,
    tmp_path_factory: pytest.TempPathFactory,
    ledger: RecordingToolGateway,
) -> Iterator[ServerThread]:
    """Pilothouse serving the guarded bundle."""
    settings = guarded_settings(store_url, upstream_server, tmp_path_factory.mktemp("guarded"))
    thread = ServerThread(settings, guarded_services(settings, ledger)).start()
    yield thread
    thread.stop()


@pytest.fixture
def guarded(guarded_server: ServerThread) -> Iterator[openai.OpenAI]:
    """The SDK with the bootstrap key (every role)."""
    with openai.OpenAI(
        base_url=guarded_server.base_url, api_key=TEST_API_KEY, max_retries=0
    ) as sdk:
        yield sdk


@pytest.fixture
def admin(guarded_server: ServerThread) -> Iterator[httpx.Client]:
    """Raw HTTP with the bootstrap key."""
    with httpx.Client(
        headers=auth_headers(), base_url=guarded_server.root_url, timeout=30
    ) as client:
        yield client


@pytest.fixture
def key_for(admin: httpx.Client) -> Callable[..., str]:
    """``key_for(tenant, *roles, **body)`` → a new key's secret."""

    def make(tenant: str, *roles: str, **body: Any) -> str:
        answer = admin.post("/admin/v1/keys", json={"tenant": tenant, "roles": list(roles), **body})
        assert answer.status_code == 201, answer.text
        return str(answer.json()["key"])

    return make


def executed(ledger: RecordingToolGateway, since: int) -> list[tuple[str, dict[str, Any]]]:
    """Calls executed after the ledger had ``since`` entries."""
    return [(c.name, dict(c.arguments)) for c in ledger.calls[since:]]


def journal(server: ServerThread, run_id: str) -> list[Any]:
    """The run's journal entries."""
    assert server.services.journal is not None
    return list(server.run(server.services.journal.read(run_id)))
