"""A server that serves the test bundle ``tests/fixtures/bundles/desk``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import openai
import pytest

from pilothouse.settings import ProviderConfig, RouteConfig
from pilothouse.testing import FakeUpstream, ServerThread
from pilothouse.testing.tools import RecordingToolGateway
from pilothouse.wiring import build_services
from tests.conftest import TEST_API_KEY, auth_headers, server_settings
from tests.fixtures import desk_tools

BUNDLE = Path(__file__).parents[2] / "fixtures" / "bundles" / "desk"
REPEATER_SCRIPT = (
    "loop: true\n"
    "turns:\n"
    "  - tool_calls: [{name: get_ticket_status, arguments: {ticket_id: INC-7}}]\n"
)


@pytest.fixture(scope="session")
def agent_server(
    store_url: str, upstream_server: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerThread]:
    """Pilothouse with the desk bundle; tools run through a recording gateway."""
    tmp = tmp_path_factory.mktemp("agents")
    script = tmp / "repeater.yaml"
    script.write_text(REPEATER_SCRIPT)
    base = server_settings(store_url, upstream_server, tmp)
    settings = base.model_copy(
        update={
            "bundle": BUNDLE,
            "providers": [
                *base.providers,
                ProviderConfig(name="repeater", kind="scripted", script=script),
                ProviderConfig(
                    name="fake-chat",
                    kind="chat-completions",
                    base_url=upstream_server.url + "/v1",
                    retry=None,
                    breaker=None,
                ),
            ],
            "routes": [
                *base.routes,
                RouteConfig(match="repeater-model", provider="repeater"),
                RouteConfig(match="chat/*", provider="fake-chat"),
            ],
        }
    )
    gateway = RecordingToolGateway(
        {"get_ticket_status": desk_tools.get_ticket_status, "search_kb": desk_tools.search_kb}
    )
    thread = ServerThread(settings, build_services(settings, gateway=gateway)).start()
    yield thread
    thread.stop()


@pytest.fixture
def agents(agent_server: ServerThread) -> Iterator[openai.OpenAI]:
    """The SDK pointed at the agent server."""
    with openai.OpenAI(base_url=agent_server.base_url, api_key=TEST_API_KEY, max_retries=0) as sdk:
        yield sdk


@pytest.fixture
def http_agents(agent_server: ServerThread) -> Iterator[httpx.Client]:
    """Raw HTTP to the agent server."""
    with httpx.Client(headers=auth_headers(), base_url=agent_server.root_url, timeout=30) as client:
        yield client
