"""A server with the data-boundary test bundle ``tests/fixtures/bundles/boundary``.

Its release redacts (``redaction.yaml``: emails hashed, everything else masked), filters
content (``guardrails.yaml`` and the ``shouter`` agent's own rules), and calls real HTTP
tools on a :class:`FaultyToolServer` whose request log proves what was (not) sent. The
fake upstream's provider key, the tool's auth header and the redaction key come from
environment references, so the process's secrets registry learns them at start-up.

Every log record of the server goes through a handler attached before it starts, so the
tests can read what the logs would have shown (``BoundaryServer.logs``).
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx
import openai
import orjson
import pytest
from pydantic import SecretStr
from sqlalchemy import MetaData, String, cast, select
from sqlalchemy.ext.asyncio import create_async_engine

from pilothouse.settings import ProviderConfig, RouteConfig
from pilothouse.testing import FakeUpstream, ServerThread
from pilothouse.testing.tool_server import FaultyToolServer
from tests.conftest import TEST_API_KEY, auth_headers, server_settings

BUNDLE = Path(__file__).parents[2] / "fixtures" / "bundles" / "boundary"

PROVIDER_KEY = "sk-canary-provider-7f3a9c1e5b2d4086"
TOOL_TOKEN = "tok-canary-tool-c0ffee4d2b9a8e71"
REDACTION_KEY = "canary-redaction-key-0123456789abcdef"
EMAIL = "ada.lovelace@example.org"
PHONE = "+44 20 7946 0958"
CARD = "4111 1111 1111 1111"
IBAN = "GB82 WEST 1234 5698 7654 32"

SECRET_CANARIES = {"provider key": PROVIDER_KEY, "tool auth header": TOOL_TOKEN}
PII_CANARIES = {
    "email": EMAIL,
    "phone": PHONE,
    "phone digits": "2079460958",
    "card": CARD,
    "card digits": "4111111111111111",
    "iban": IBAN,
    "iban compact": IBAN.replace(" ", ""),
}
API_KEY_CANARIES: dict[str, str] = {"bootstrap admin key": TEST_API_KEY}
"""Client API keys: the servers' bootstrap key (``PILOTHOUSE_ADMIN_KEY``), which every test
client presents; the canary test adds a key it mints for the run."""

SCRIPTS = {
    # Looks the customer up (in process), then messages them (egress, cleared for PII).
    "relay-model": f"""
turns:
  - tool_calls:
      - {{name: lookup_customer, arguments: {{email: "{EMAIL}"}}}}
      - {{name: send_message, arguments: {{to: "{EMAIL}", phone: "{PHONE}", text: "Hello!"}}}}
  - text: "Sent the message to {EMAIL} ({PHONE})."
""",
    # Tries to send PII to a tool cleared for nothing, and a card to a PII-only tool.
    "leaker-model": f"""
turns:
  - tool_calls:
      - {{name: post_note, arguments: {{text: "Customer {EMAIL} called"}}}}
      - {{name: send_message, arguments: {{to: "{EMAIL}", text: "Your card {CARD}"}}}}
  - text: "I could not send that."
""",
    # Calls a tool whose URL leaves its egress allowlist.
    "fetcher-model": """
turns:
  - tool_calls: [{name: fetch_elsewhere, arguments: {q: status}}]
  - text: "Nothing fetched."
""",
    # Asks for a tool call whose arguments an output filter blocks.
    "shouter-model": """
turns:
  - tool_calls: [{name: post_note, arguments: {text: "please DROP TABLE users"}}]
  - text: "Posted."
""",
    # Answers with a word the moderated agent's classifier flags.
    "flagged-model": """
turns:
  - text: "This contains a forbidden-word indeed."
""",
}


@dataclass
class BoundaryServer:
    """The server, its tool server, what its logs said, and its store."""

    thread: ServerThread
    tools: FaultyToolServer
    log_stream: io.StringIO
    store_url: str
    trace_file: Path

    @property
    def logs(self) -> str:
        """Everything logged so far, formatted with every extra attribute."""
        return self.log_stream.getvalue()

    def traces(self) -> str:
        """Every span exported so far (JSONL, message content on), flushed first."""
        provider = self.thread.services.telemetry.provider
        assert provider is not None, "tracing is on for the boundary server"
        provider.force_flush()
        return self.trace_file.read_text() if self.trace_file.exists() else ""


class _EverythingFormatter(logging.Formatter):
    """Formats a record with its message, traceback and every ``extra=`` attribute, the
    way a JSON log formatter would expose them."""

    _standard = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
        "message",
        "asctime",
        "taskName",
    }

    def format(self, record: logging.LogRecord) -> str:
        extras = {k: v for k, v in record.__dict__.items() if k not in self._standard}
        text = super().format(record)
        return f"{text} {orjson.dumps(extras, default=str).decode()}"


@pytest.fixture(scope="session")
def boundary_tools() -> Iterator[FaultyToolServer]:
    server = FaultyToolServer().start_in_thread()
    yield server
    server.stop_thread()


@pytest.fixture(scope="session")
def boundary_server(
    store_url: str,
    upstream_server: FakeUpstream,
    boundary_tools: FaultyToolServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[BoundaryServer]:
    os.environ.update(
        BOUNDARY_TOOL_URL=boundary_tools.url,
        BOUNDARY_PROVIDER_KEY=PROVIDER_KEY,
        BOUNDARY_TOOL_TOKEN=f"Bearer {TOOL_TOKEN}",
        BOUNDARY_REDACTION_KEY=REDACTION_KEY,
    )
    tmp = tmp_path_factory.mktemp("boundary")
    providers = []
    routes = []
    for model, script in SCRIPTS.items():
        path = tmp / f"{model}.yaml"
        path.write_text(script)
        providers.append(ProviderConfig(name=model, kind="scripted", script=path))
        routes.append(RouteConfig(match=model, provider=model))
    base = server_settings(store_url, upstream_server, tmp)
    upstream = base.providers[0].model_copy(
        update={"api_key": SecretStr("env:BOUNDARY_PROVIDER_KEY")}  # resolved at start-up
    )
    settings = base.model_copy(
        update={
            "bundle": BUNDLE,
            "providers": [upstream, *base.providers[1:], *providers],
            "routes": [*base.routes, *routes],
            # Spans with message and tool content: the hardest case for the canaries.
            "trace_exporter": "jsonl",
            "trace_file": tmp / "traces.jsonl",
            "trace_content": True,
        }
    )
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_EverythingFormatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    thread = ServerThread(settings).start()
    try:
        yield BoundaryServer(thread, boundary_tools, stream, store_url, tmp / "traces.jsonl")
    finally:
        thread.stop()
        root.removeHandler(handler)


@pytest.fixture
def boundary(boundary_server: BoundaryServer) -> BoundaryServer:
    """The boundary server, with its tool server's log cleared for this test."""
    boundary_server.tools.reset()
    return boundary_server


@pytest.fixture
def sdk(boundary: BoundaryServer) -> Iterator[openai.OpenAI]:
    """The SDK pointed at the boundary server."""
    with openai.OpenAI(
        base_url=boundary.thread.base_url, api_key=TEST_API_KEY, max_retries=0
    ) as client:
        yield client


@pytest.fixture
def raw(boundary: BoundaryServer) -> Iterator[httpx.Client]:
    """Raw HTTP to the boundary server."""
    with httpx.Client(
        base_url=boundary.thread.root_url, headers=auth_headers(), timeout=30
    ) as client:
        yield client


def database_dump(store_url: str) -> str:
    """Every value of every column of every table, as text (a SELECT of all of it)."""

    async def dump() -> str:
        url = store_url.replace("sqlite:///", "sqlite+aiosqlite:///", 1)
        url = url.replace("postgresql://", "postgresql+asyncpg://", 1)
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                metadata = MetaData()
                await conn.run_sync(metadata.reflect)
                parts: list[str] = []
                for table in metadata.sorted_tables:
                    columns = [cast(column, String) for column in table.columns]
                    for row in (await conn.execute(select(*columns))).all():
                        parts.extend(str(value) for value in row if value is not None)
                return "\n".join(parts)
        finally:
            await engine.dispose()

    return asyncio.run(dump())


def leaks(text: str, canaries: dict[str, str]) -> list[str]:
    """The names of the canaries found in ``text``."""
    return [name for name, value in canaries.items() if value in text]


def all_canaries() -> dict[str, str]:
    """Secret, PII and (once they exist) API-key canaries."""
    return {**SECRET_CANARIES, **PII_CANARIES, **API_KEY_CANARIES}
