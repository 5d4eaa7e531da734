"""Structured logs: one JSON object per line, stamped with the request's correlation ids.

:func:`configure_logging` installs one handler on the ``pilothouse`` logger (records
still propagate, so test capture and a root handler keep working) with:

* :class:`CorrelationFilter`: adds ``request_id``, ``trace_id`` and ``span_id`` of the
  request being served (from :data:`CORRELATION`, a context variable the ingress
  middleware sets; tasks spawned by a request inherit it);
* :class:`~pilothouse.observability.redaction.RedactingFilter` over a
  :class:`~pilothouse.observability.redaction.SecretsRegistry` of the configured provider
  keys, so a key can never reach a log line in clear;
* :class:`JsonFormatter` (``log_format=json``, the default) or the stdlib text format.

It is called at the process edge (``pilothouse serve``, the uvicorn factory), never by
library code, and replaces the handler it installed before, so calling it twice is safe.
"""

from __future__ import annotations

import contextvars
import logging
import sys
from datetime import UTC, datetime
from typing import IO, Any

import orjson

from pilothouse.observability.redaction import RedactingFilter, Redactor, SecretsRegistry

# (request_id, traceparent) of the request being served.
CORRELATION: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar(
    "pilothouse_correlation", default=None
)

_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "request_id",
    "trace_id",
    "span_id",
}
_MARKER = "_pilothouse_handler"


class CorrelationFilter(logging.Filter):
    """Adds ``request_id``, ``trace_id`` and ``span_id`` (empty outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Stamp ``record``; always lets it through."""
        ids = CORRELATION.get()
        request_id, traceparent = ids if ids is not None else ("", "")
        parts = traceparent.split("-")
        record.request_id = request_id
        record.trace_id = parts[1] if len(parts) == 4 else ""
        record.span_id = parts[2] if len(parts) == 4 else ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, correlation ids, extras
    and the exception text."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", ""),
            "trace_id": getattr(record, "trace_id", ""),
            "span_id": getattr(record, "span_id", ""),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return orjson.dumps(entry, default=str).decode()


def build_handler(
    log_format: str, secrets: SecretsRegistry, stream: IO[str] | None = None
) -> logging.Handler:
    """A handler with the correlation and redaction filters and the chosen format."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(CorrelationFilter())
    handler.addFilter(RedactingFilter(Redactor(secrets=secrets)))
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter(
                "%(asctime)s %(levelname)s %(name)s [%(request_id)s %(trace_id)s] %(message)s"
            )
        )
    setattr(handler, _MARKER, True)
    return handler


def configure_logging(
    log_format: str, level: str, secrets: SecretsRegistry, stream: IO[str] | None = None
) -> logging.Handler:
    """Install (or replace) the ``pilothouse`` logger's handler; returns it."""
    logger = logging.getLogger("pilothouse")
    for old in [h for h in logger.handlers if getattr(h, _MARKER, False)]:
        logger.removeHandler(old)
    handler = build_handler(log_format, secrets, stream)
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    return handler
