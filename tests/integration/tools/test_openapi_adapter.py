"""The openapi adapter end to end: a bundle's OpenAPI source → contracts → gateway → the
right HTTP requests on a real server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pilothouse.control.bundle import load_bundle
from pilothouse.runtime.tools.base import RunToolBudget
from pilothouse.runtime.tools.clock import ManualClock
from pilothouse.runtime.tools.factory import ToolSetupError, build_gateway
from pilothouse.runtime.tools.gateway import DefaultToolGateway
from pilothouse.testing.tool_server import FaultyToolServer
from tests.unit.runtime.tools.openapi_fixture import DESK_OPENAPI

from .conftest import TRACEPARENT, make_call


def write_bundle(root: Path, source: str) -> Path:
    (root / "apis").mkdir(parents=True)
    (root / "apis" / "desk.yaml").write_text(DESK_OPENAPI)
    (root / "tools").mkdir()
    (root / "tools" / "desk.openapi.yaml").write_text(source)
    return root


@pytest.fixture
async def desk(
    tool_server: FaultyToolServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[DefaultToolGateway]:
    """The desk API's gateway, built from a bundle whose base URL is the tool server."""
    monkeypatch.setenv("DESK_TOKEN", "Bearer desk-secret")
    root = write_bundle(
        tmp_path,
        f"openapi: apis/desk.yaml\nbase_url: {tool_server.url}\n"
        "headers: {Authorization: 'env:DESK_TOKEN'}\n",
    )
    gateway = build_gateway(load_bundle(root).tools, root, clock=ManualClock())
    yield gateway
    await gateway.aclose()


async def test_a_get_operation_sends_path_and_query_parameters(
    tool_server: FaultyToolServer, desk: DefaultToolGateway
) -> None:
    call = make_call("getTicket", {"ticket_id": "T-5", "verbose": True})
    (result,) = await desk.execute([call], RunToolBudget())
    assert result.ok, result.error
    assert result.output["ticket_id"] == "T-5"
    (request,) = tool_server.requests
    assert (request.method, request.path, request.query) == (
        "GET",
        "/tickets/T-5",
        {"verbose": ["true"]},
    )
    assert request.headers["authorization"] == "Bearer desk-secret"
    assert request.headers["traceparent"] == TRACEPARENT


async def test_a_post_operation_sends_the_body_properties_once_per_key(
    tool_server: FaultyToolServer, desk: DefaultToolGateway
) -> None:
    tool_server.fail("status", status=503, after_effect=True)
    arguments = {"ticket_id": "T-5", "text": "rolled back", "author": {"name": None}}
    (result,) = await desk.execute([make_call("addNote", arguments, key="o:1")], RunToolBudget())
    assert result.ok, result.error
    assert result.output == {"note_id": "N-1", "ticket_id": "T-5", "text": "rolled back"}
    assert [r.path for r in tool_server.requests] == ["/tickets/T-5/notes"] * 2
    assert tool_server.requests[0].body == {"text": "rolled back", "author": {"name": None}}
    assert {r.headers["idempotency-key"] for r in tool_server.requests} == {"o:1"}
    assert tool_server.effects == 1


async def test_arguments_are_checked_against_the_imported_schema(
    tool_server: FaultyToolServer, desk: DefaultToolGateway
) -> None:
    (result,) = await desk.execute(
        [make_call("getTicket", {"ticket_id": "nope", "X-Trace": "1"})], RunToolBudget()
    )
    assert result.error is not None and result.error["code"] == "invalid_arguments"
    assert "$.ticket_id" in result.error["message"]
    assert tool_server.requests == []


def test_a_relative_or_missing_base_url_is_a_setup_error(tmp_path: Path) -> None:
    root = write_bundle(tmp_path, "openapi: apis/desk.yaml\nbase_url: /v1\n")
    with pytest.raises(ToolSetupError) as caught:
        build_gateway(load_bundle(root).tools, root)
    assert set(caught.value.problems) == {"getTicket", "addNote"}
