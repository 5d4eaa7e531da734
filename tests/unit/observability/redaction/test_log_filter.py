"""The logging filter: nothing a filtered handler writes carries a secret."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from pilothouse.observability.redaction import RedactingFilter, Redactor, SecretsRegistry

SECRET = "sk-provider-canary-0123456789abcdef"
TOOL_HEADER = "Bearer tool-auth-canary-987654"


class JsonFormatter(logging.Formatter):
    """Renders ``exc_info`` and extras itself, as structured-logging formatters do."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {"message": record.getMessage(), "user": getattr(record, "user", None)}
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        if record.exc_text:
            payload["exc_text"] = record.exc_text
        return json.dumps(payload)


@pytest.fixture
def stream() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def logger(stream: io.StringIO) -> Iterator[logging.Logger]:
    """A logger whose one handler is filtered; its records go nowhere else."""
    redactor = Redactor(secrets=SecretsRegistry([SECRET, TOOL_HEADER]))
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactingFilter(redactor))
    log = logging.getLogger("pilothouse.tests.redaction")
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    log.propagate = False
    yield log
    log.removeHandler(handler)


def test_a_secret_passed_as_an_argument_never_reaches_the_output(
    logger: logging.Logger, stream: io.StringIO
) -> None:
    logger.info("using key %s for %r", SECRET, {"auth": TOOL_HEADER})
    output = stream.getvalue()
    assert SECRET not in output
    assert "tool-auth-canary-987654" not in output
    assert output.startswith("INFO using key [REDACTED:secret] for {'auth': '[REDACTED:secret]'}")


def test_pii_in_the_message_is_redacted(logger: logging.Logger, stream: io.StringIO) -> None:
    logger.warning("customer jane@example.com paid with 4111 1111 1111 1111")
    assert stream.getvalue() == ("WARNING customer [REDACTED:email] paid with [REDACTED:card]\n")


def test_a_traceback_is_redacted_and_the_exception_not_rendered_again(
    logger: logging.Logger, stream: io.StringIO
) -> None:
    try:
        raise ValueError(f"upstream rejected {SECRET}")
    except ValueError:
        logger.exception("call failed")
    output = stream.getvalue()
    assert SECRET not in output
    assert "ValueError: upstream rejected [REDACTED:secret]" in output


def test_formatters_that_render_exc_info_themselves_get_nothing_to_leak(
    stream: io.StringIO,
) -> None:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter(Redactor(secrets=SecretsRegistry([SECRET]))))
    log = logging.getLogger("pilothouse.tests.redaction.json")
    log.addHandler(handler)
    log.propagate = False
    try:
        try:
            raise RuntimeError(SECRET)
        except RuntimeError:
            log.error("boom %s", SECRET, exc_info=True, extra={"user": "jane@example.com"})
    finally:
        log.removeHandler(handler)
    record = json.loads(stream.getvalue())
    assert SECRET not in stream.getvalue()
    assert record["message"] == "boom [REDACTED:secret]"
    assert record["user"] == "[REDACTED:email]"
    assert "exception" not in record
    assert "RuntimeError: [REDACTED:secret]" in record["exc_text"]


def test_extras_of_any_type_are_redacted(logger: logging.Logger) -> None:
    captured: list[logging.LogRecord] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            captured.append(record)

    class Opaque:
        def __str__(self) -> str:
            return f"Opaque({SECRET})"

    capture = Capture()
    capture.addFilter(RedactingFilter(Redactor(secrets=SecretsRegistry([SECRET]))))
    logger.addHandler(capture)
    try:
        logger.info("extras", extra={"payload": {"key": SECRET, "n": 1}, "obj": Opaque(), "n": 7})
    finally:
        logger.removeHandler(capture)
    extras = captured[0].__dict__
    assert extras["payload"] == {"key": "[REDACTED:secret]", "n": 1}
    assert extras["obj"] == "Opaque([REDACTED:secret])"
    assert extras["n"] == 7


def test_stack_info_is_redacted(logger: logging.Logger, stream: io.StringIO) -> None:
    record = logger.makeRecord(
        logger.name, logging.INFO, __file__, 1, "m", (), None, sinfo=f"Stack: {SECRET}"
    )
    logger.handle(record)
    assert SECRET not in stream.getvalue()
    assert "Stack: [REDACTED:secret]" in stream.getvalue()


def test_arguments_that_do_not_fit_are_dropped_not_printed(
    logger: logging.Logger, stream: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    logger.info("two %s %s but one given", SECRET)
    captured = capsys.readouterr()
    assert SECRET not in stream.getvalue() + captured.err + captured.out
    assert "arguments did not fit" in stream.getvalue()
    assert "Logging error" not in captured.err


def test_a_handler_filter_sees_records_of_child_loggers(
    logger: logging.Logger, stream: io.StringIO
) -> None:
    child = logging.getLogger("pilothouse.tests.redaction.child.grandchild")
    child.warning("child saw %s", SECRET)
    assert stream.getvalue() == "WARNING child saw [REDACTED:secret]\n"


def test_two_filtered_handlers_share_a_record_harmlessly(
    logger: logging.Logger, stream: io.StringIO
) -> None:
    second = io.StringIO()
    handler = logging.StreamHandler(second)
    handler.addFilter(RedactingFilter(Redactor(secrets=SecretsRegistry([SECRET]))))
    logger.addHandler(handler)
    try:
        logger.info("key %s", SECRET)
    finally:
        logger.removeHandler(handler)
    assert second.getvalue() == "key [REDACTED:secret]\n"
    assert stream.getvalue() == "INFO key [REDACTED:secret]\n"
