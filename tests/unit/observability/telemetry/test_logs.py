"""The JSON log handler: correlation ids from the request context, secrets redacted in the
message, its arguments, extras and tracebacks; the text format; reinstalling replaces."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import orjson
import pytest

from pilothouse.observability.logs import CORRELATION, configure_logging
from pilothouse.observability.redaction import SecretsRegistry

KEY = "sk-proj-canary0123456789abcdefABCDEF"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
def buffer() -> Iterator[io.StringIO]:
    logger = logging.getLogger("pilothouse")
    level = logger.level
    stream = io.StringIO()
    handler = configure_logging("json", "debug", SecretsRegistry([KEY]), stream)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(level)


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in stream.getvalue().splitlines()]


def test_lines_carry_the_request_ids(buffer: io.StringIO) -> None:
    log = logging.getLogger("pilothouse.test")
    token = CORRELATION.set(("req_abc", TRACEPARENT))
    try:
        log.info("inside", extra={"tool": "search_kb"})
    finally:
        CORRELATION.reset(token)
    log.info("outside")
    inside, outside = _lines(buffer)
    assert inside["request_id"] == "req_abc"
    assert inside["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert inside["span_id"] == "00f067aa0ba902b7"
    assert inside["tool"] == "search_kb" and inside["level"] == "info"
    assert inside["logger"] == "pilothouse.test" and inside["message"] == "inside"
    assert outside["request_id"] == "" and outside["trace_id"] == ""


def test_secrets_never_reach_a_line(buffer: io.StringIO) -> None:
    log = logging.getLogger("pilothouse.test")
    log.warning("key is %s", KEY, extra={"headers": {"authorization": f"Bearer {KEY}"}})
    try:
        raise RuntimeError(f"upstream refused {KEY}")
    except RuntimeError:
        log.exception("failed with %s", KEY)
    text = buffer.getvalue()
    assert KEY not in text
    first, second = _lines(buffer)
    assert "key is " in str(first["message"])
    assert "RuntimeError" in str(second["exception"])


def test_text_format_and_reinstall(buffer: io.StringIO) -> None:
    logger = logging.getLogger("pilothouse")
    stream = io.StringIO()
    handler = configure_logging("text", "info", SecretsRegistry([KEY]), stream)
    try:
        mine = [h for h in logger.handlers if getattr(h, "_pilothouse_handler", False)]
        assert mine == [handler]  # the JSON handler was replaced, not doubled
        token = CORRELATION.set(("req_text", TRACEPARENT))
        logging.getLogger("pilothouse.test").info("plain %s", KEY)
        CORRELATION.reset(token)
        line = stream.getvalue()
        assert "req_text 4bf92f3577b34da6a3ce929d0e0e4736" in line and KEY not in line
        assert buffer.getvalue() == ""
    finally:
        logger.removeHandler(handler)
