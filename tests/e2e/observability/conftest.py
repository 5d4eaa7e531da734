"""A server with the ``faulty`` bundle (HTTP tools on the faulty tool server) whose spans go
to an in-memory exporter, for the trace, metrics and log tests."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import httpx2 as httpx
import openai
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from pilothouse.observability.telemetry import build_telemetry
from pilothouse.testing import FakeUpstream, ServerThread
from pilothouse.testing.tool_server import FaultyToolServer
from pilothouse.wiring import build_services
from tests.conftest import TEST_API_KEY, server_settings

BUNDLE = Path(__file__).parents[2] / "fixtures" / "bundles" / "faulty"


@pytest.fixture(scope="session")
def obs_tools() -> Iterator[FaultyToolServer]:
    """The HTTP tool server the ``faulty`` bundle's tools call."""
    server = FaultyToolServer().start_in_thread()
    yield server
    server.stop_thread()


@pytest.fixture(scope="session")
def observed(
    store_url: str,
    upstream_server: FakeUpstream,
    obs_tools: FaultyToolServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ServerThread, InMemorySpanExporter]]:
    """Pilothouse with tracing into an in-memory exporter (its own: a server shuts its
    exporter down when it stops) and the real tool gateway."""
    os.environ["TOOL_SERVER_URL"] = obs_tools.url
    base = server_settings(store_url, upstream_server, tmp_path_factory.mktemp("obs"))
    settings = base.model_copy(update={"bundle": BUNDLE})
    exporter = InMemorySpanExporter()
    telemetry = build_telemetry(settings, exporter=exporter)
    thread = ServerThread(settings, build_services(settings, telemetry=telemetry)).start()
    yield thread, exporter
    thread.stop()


@pytest.fixture
def obs_server(observed: tuple[ServerThread, InMemorySpanExporter]) -> ServerThread:
    """The observed server."""
    return observed[0]


@pytest.fixture
def span_exporter(observed: tuple[ServerThread, InMemorySpanExporter]) -> InMemorySpanExporter:
    """Where the observed server's spans end up."""
    return observed[1]


@pytest.fixture
def obs(
    obs_server: ServerThread,
    obs_tools: FaultyToolServer,
    span_exporter: InMemorySpanExporter,
    upstream: FakeUpstream,
) -> Iterator[openai.OpenAI]:
    """The SDK against the observed server, with spans and tool records cleared (the
    spans of earlier tests' requests finished first: they are exported after the request
    path)."""
    obs_tools.reset()
    obs_server.flush_telemetry()
    span_exporter.clear()
    with openai.OpenAI(base_url=obs_server.base_url, api_key=TEST_API_KEY, max_retries=0) as client:
        yield client


@pytest.fixture
def obs_http(obs_server: ServerThread) -> Iterator[httpx.Client]:
    """Raw HTTP to the observed server."""
    with httpx.Client(base_url=obs_server.root_url, timeout=30) as client:
        yield client


def wait_for_spans(
    exporter: InMemorySpanExporter,
    ready: Callable[[Sequence[ReadableSpan]], bool],
    timeout_s: float = 10.0,
) -> Sequence[ReadableSpan]:
    """The finished spans once ``ready`` holds for them.

    The server span ends after the last byte is sent, so the client can hold the answer a
    moment before the span is exported; this waits for it (a bound, not a measurement).
    """
    deadline = time.monotonic() + timeout_s
    while True:
        spans = exporter.get_finished_spans()
        if ready(spans) or time.monotonic() > deadline:
            return spans
        time.sleep(0.01)


def named(spans: Sequence[ReadableSpan], prefix: str) -> list[ReadableSpan]:
    """Spans whose name starts with ``prefix``."""
    return [s for s in spans if s.name.startswith(prefix)]
