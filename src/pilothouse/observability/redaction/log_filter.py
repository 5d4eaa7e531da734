"""A ``logging.Filter`` that redacts log records before any handler formats them.

Attach it to every handler that writes somewhere (``handler.addFilter(RedactingFilter(
redactor))``). A filter on a handler sees every record the handler emits; a filter on a
logger sees only records logged on that very logger, not those propagated from its
children, so handlers are the right place.

The filter formats the message with its arguments first and redacts the result, so
``log.info("key %s", key)`` is covered, then clears ``args`` so no formatter can put the
raw arguments back. It renders the traceback into ``exc_text`` and redacts that, and
drops ``exc_info``: formatters that render ``exc_info`` themselves (JSON formatters do)
would otherwise reprint the exception's message unredacted. ``stack_info`` and every
``extra=`` attribute are redacted too. Redacting a record twice is harmless (redaction
is idempotent), so several filtered handlers may share a record.

A record whose arguments do not fit its format string is not handed to logging's error
path, which prints the raw arguments to stderr; the message is kept with a note instead.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from pilothouse.observability.redaction.redactor import Redactor

_STANDARD_ATTRIBUTES = frozenset(
    logging.LogRecord("", logging.INFO, "", 0, "", None, None).__dict__
) | {"message", "asctime", "taskName"}


class RedactingFilter(logging.Filter):
    """Redacts the message, arguments, traceback, stack and extras of each record."""

    def __init__(self, redactor: Redactor) -> None:
        """Args:
        redactor: The redactor (policy and secrets registry) to apply.
        """
        super().__init__()
        self._redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact ``record`` in place; always lets it through."""
        record.msg = self._redactor.redact_text(_message(record)).text
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        record.exc_info = None
        if record.exc_text:
            record.exc_text = self._redactor.redact_text(record.exc_text).text
        if record.stack_info:
            record.stack_info = self._redactor.redact_text(record.stack_info).text
        for name in record.__dict__.keys() - _STANDARD_ATTRIBUTES:
            record.__dict__[name] = self._extra(record.__dict__[name])
        return True

    def _extra(self, value: Any) -> Any:
        """An ``extra=`` value redacted: JSON values walked, other objects by their text."""
        if value is None or isinstance(value, str | int | float | dict | list | tuple):
            return self._redactor.redact_json(value).value
        try:
            text = str(value)
        except Exception:
            # A formatter could not print it either; keep the record loggable.
            return f"<unprintable {type(value).__name__}>"
        redacted = self._redactor.redact_text(text)
        return redacted.text if redacted.found else value


def _message(record: logging.LogRecord) -> str:
    """The record's message with its arguments merged in, never raising."""
    try:
        return record.getMessage()
    except Exception:
        # Logging's own error report would print the raw arguments; say less instead.
        return f"{record.msg} [log arguments did not fit the message and were dropped]"
