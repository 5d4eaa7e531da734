"""JSON log lines from a real server carry the request's ids and never a configured secret."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import openai
import orjson
import pytest

from pilothouse.observability.logs import configure_logging
from pilothouse.observability.redaction import SecretsRegistry
from pilothouse.testing import FakeUpstream
from pilothouse.testing.tool_server import FaultyToolServer

UPSTREAM_KEY = "sk-test-upstream-key"  # the fake provider's key in tests.conftest


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """The ``pilothouse`` logger as ``serve`` configures it, writing to a buffer."""
    logger = logging.getLogger("pilothouse")
    level = logger.level
    buffer = io.StringIO()
    handler = configure_logging("json", "info", SecretsRegistry([UPSTREAM_KEY]), buffer)
    try:
        yield buffer
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _entries(buffer: io.StringIO) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in buffer.getvalue().splitlines()]


def test_log_lines_carry_request_and_trace_ids(
    obs: openai.OpenAI,
    obs_tools: FaultyToolServer,
    upstream: FakeUpstream,
    log_lines: io.StringIO,
) -> None:
    obs_tools.fail("status", times=1, status=400, path="/notes")
    raw = obs.responses.with_raw_response.create(
        model="agent:noter",
        # No secret in this one: the data boundary would (rightly) keep it from the HTTP
        # tool, and this test needs the tool's failure logged.
        input="Add a note to INC-1.",
        extra_headers={"x-request-id": "req-obs-logs-1"},
    )
    trace_id = raw.headers["traceparent"].split("-")[1]
    obs.responses.create(model="upstream/gpt-4o", input=f"Echo {UPSTREAM_KEY}")
    entries = _entries(log_lines)
    ours = [e for e in entries if e["request_id"] == "req-obs-logs-1"]
    access = [e for e in ours if e["logger"] == "pilothouse.access"]
    assert len(access) == 1 and access[0]["status"] == 200
    assert access[0]["route"] == "/v1/responses" and access[0]["trace_id"] == trace_id
    tool_failure = [e for e in ours if e["message"] == "tool call failed"]
    assert tool_failure and tool_failure[0]["code"] == "http_400"
    assert tool_failure[0]["trace_id"] == trace_id
    assert all(e["level"] and e["time"] for e in entries)
    assert UPSTREAM_KEY not in log_lines.getvalue()
