"""The shipped example: ``examples/support-desk`` against its desk service, as ``make run``
serves it — the brief's question answered by the whole governed loop."""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from aiohttp import web
from examples.desk_service.service import DESK, create_app

from pilothouse.testing import FakeUpstream, ServerThread
from pilothouse.testing.server import free_port
from tests.conftest import TEST_API_KEY, server_settings

EXAMPLE = Path(__file__).parents[3] / "examples" / "support-desk"
QUESTION = "Check ticket INC-24531 and summarize next action."


@pytest.fixture(scope="module")
def desk() -> Iterator[tuple[str, web.Application]]:
    """The desk service on its own loop in a thread."""
    app = create_app()
    port = free_port()
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(10)
    yield f"http://127.0.0.1:{port}", app
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


@pytest.fixture(scope="module")
def example_server(
    store_url: str,
    upstream_server: FakeUpstream,
    desk: tuple[str, web.Application],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServerThread]:
    os.environ["SUPPORT_DESK_URL"] = desk[0]
    base = server_settings(store_url, upstream_server, tmp_path_factory.mktemp("example"))
    thread = ServerThread(base.model_copy(update={"bundle": EXAMPLE})).start()
    yield thread
    thread.stop()
    os.environ.pop("SUPPORT_DESK_URL", None)


def test_the_brief_question(
    example_server: ServerThread, desk: tuple[str, web.Application]
) -> None:
    """The brief's journey: the agent checks the ticket and the knowledge base, and its
    note to the incident (a side effect) waits for approval (DESIGN §9)."""
    written = desk[1][DESK].notes.setdefault("INC-24531", [])
    before = len(written)
    with openai.OpenAI(
        base_url=example_server.base_url, api_key=TEST_API_KEY, max_retries=0
    ) as sdk:
        response = sdk.responses.create(model="agent:support-desk", input=QUESTION)
        assert response.status == "completed"
        calls = {item.name: item for item in response.output if item.type == "mcp_call"}
        assert set(calls) == {"get_ticket_status", "search_kb"}
        assert all(call.status == "completed" for call in calls.values())
        ticket = json.loads(calls["get_ticket_status"].output or "{}")
        assert ticket["service"] == "checkout-api"
        hits = json.loads(calls["search_kb"].output or "{}")["results"]
        assert hits and hits[0]["id"].startswith("KB-")
        waiting = [i for i in response.output if i.type == "mcp_approval_request"]
        assert [w.name for w in waiting] == ["add_incident_note"]
        assert len(written) == before  # nothing written before approval
        approved = sdk.responses.create(
            model="agent:support-desk",
            previous_response_id=response.id,
            input=[
                {
                    "type": "mcp_approval_response",
                    "approval_request_id": waiting[0].id,
                    "approve": True,
                }
            ],
        )
        again = sdk.responses.create(
            model="agent:support-desk",
            input="And the owner?",
            previous_response_id=approved.id,
        )
    assert approved.status == "completed"
    note = next(i for i in approved.output if i.type == "mcp_call")
    assert note.name == "add_incident_note" and note.status == "completed"
    assert len(written) == before + 1 and written[-1]["text"] == QUESTION
    extension = response.model_extra["pilothouse"]  # type: ignore[index]
    assert 0 < extension["cost_usd"] <= 0.05
    assert again.status == "completed"
    assert not any(i.type == "mcp_list_tools" for i in again.output)


def test_prompt_template_addresses_the_agent(example_server: ServerThread) -> None:
    with openai.OpenAI(
        base_url=example_server.base_url, api_key=TEST_API_KEY, max_retries=0
    ) as sdk:
        response = sdk.responses.create(
            prompt={"id": "triage", "version": "2", "variables": {"tone": "calm"}},
            input=QUESTION,
            model=openai.omit,  # type: ignore[arg-type]
        )
    assert response.model == "agent:support-desk"
    assert response.status == "completed"
