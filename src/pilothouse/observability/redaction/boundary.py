"""The process's data boundary: one secrets registry, the redactor in force, and where they
are applied.

A process builds one :class:`DataBoundary` at its composition root (``wiring.py``) and
feeds its :class:`SecretsRegistry` with every secret it resolves — provider keys, tool
auth headers, secret references of tool bindings, the redaction hash key — so those exact
values are redacted wherever they appear. The redaction *policy* is release
configuration (``redaction.yaml`` in a bundle): the release the process serves by default
(its ``--bundle``, or the release its default environment points at) sets it with
:meth:`DataBoundary.use_policy`. Secrets are redacted under every policy.

The boundary is applied at three places, once each:

* persistence — :mod:`pilothouse.storage.redacting` wraps the store, so stored responses,
  input items, conversation items and metadata, run specs and journal payloads are
  written redacted (:meth:`DataBoundary.json_text`, :meth:`DataBoundary.json_value`);
* logging — :meth:`DataBoundary.install_log_filter` puts a redacting filter on every
  handler present when the server starts (and on logging's last-resort handler);
* data-flow policy — :meth:`DataBoundary.classify` reports the classes found in a tool
  call's arguments without changing them.

What a client gets back: the answer to its own create request (the JSON body or the live
stream) is produced in memory and carries what the model and tools produced, in clear.
Everything read back later comes from the store and is therefore redacted: ``GET
/v1/responses/{id}`` (and its ``?stream=true`` replay), ``input_items``, conversation
items, an idempotent replay of a create, and the history a follow-up turn is given through
``previous_response_id`` or a conversation.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import orjson

from pilothouse.observability.redaction.log_filter import RedactingFilter
from pilothouse.observability.redaction.policy import RedactionPolicy
from pilothouse.observability.redaction.redactor import Redactor
from pilothouse.observability.redaction.secrets_registry import SecretsRegistry

log = logging.getLogger(__name__)

LOGGERS_WITH_HANDLERS = ("", "pilothouse", "uvicorn", "uvicorn.error", "uvicorn.access")
"""Loggers whose handlers get the redacting filter (``""`` is the root logger)."""


class DataBoundary:
    """The secrets registry and the redactor in force. See the module docstring.

    Args:
        policy: The initial policy (the default masks every class).
        secrets: The registry to use (a new one when omitted).
    """

    def __init__(
        self, policy: RedactionPolicy | None = None, secrets: SecretsRegistry | None = None
    ) -> None:
        self.secrets = secrets if secrets is not None else SecretsRegistry()
        self._redactor = Redactor(policy, self.secrets)
        self._filters: list[tuple[logging.Handler, logging.Filter]] = []
        self._replaced: list[tuple[logging.Handler, logging.Filter]] = []

    @property
    def redactor(self) -> Redactor:
        """The redactor in force."""
        return self._redactor

    def use_policy(self, policy: RedactionPolicy) -> None:
        """Redact by ``policy`` from now on (a release's ``redaction.yaml``).

        Raises:
            InvalidRequest: The policy's hash key reference cannot be resolved or is short.
        """
        if policy != self._redactor.policy:
            self._redactor = Redactor(policy, self.secrets)

    def register(self, values: Iterable[str], what: str) -> None:
        """Add resolved secret values; ``what`` names their source for the log (never the
        value) when one is too short to be registered."""
        for value in values:
            if value and not self.secrets.add(value):
                log.warning("a secret of %s is too short to be redacted by value", what)

    def text(self, text: str) -> str:
        """``text`` redacted."""
        return self._redactor.redact_text(text).text

    def json_value(self, value: Any) -> Any:
        """A JSON value redacted (the same object when nothing was found)."""
        return self._redactor.redact_json(value).value

    def json_text(self, text: str) -> str:
        """Serialised JSON redacted, walked as parsed JSON so that credential keys and
        escaped strings are handled; the same string when nothing was found.

        Always parsed and walked (about 1.5 times the cost of scanning the text as it
        is): a scan of the serialised text would read escapes such as ``\n`` as letters
        and could miss a value the decoded string holds.
        """
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            return self.text(text)
        redacted = self._redactor.redact_json(value).value
        return text if redacted is value else orjson.dumps(redacted).decode()

    def classify(self, value: Any) -> frozenset[str]:
        """The data classes found in a JSON value by the redactor in force."""
        return classify_arguments(self._redactor, value)

    def install_log_filter(self, loggers: Iterable[str] = LOGGERS_WITH_HANDLERS) -> None:
        """Redact every record of the handlers present now on ``loggers`` (and on
        logging's last-resort handler); see the module docstring.

        A handler that already carries a plain :class:`RedactingFilter` (the serving
        process's log handler redacts its provider keys from the first line on) has it
        replaced while the boundary's is installed: the boundary knows those secrets
        too, and a record is then redacted once, not twice. :meth:`remove_log_filter`
        puts it back.

        Filters redact a record in place, so with several boundaries in one process (tests
        only) the first handler's filters decide what every later handler sees.
        """
        handlers = {handler for name in loggers for handler in logging.getLogger(name).handlers}
        if logging.lastResort is not None:
            handlers.add(logging.lastResort)
        for handler in handlers:
            if not any(h is handler for h, _ in self._filters):
                own = [f for f in handler.filters if type(f) is RedactingFilter]
                for replaced in own:
                    handler.removeFilter(replaced)
                log_filter = _BoundaryFilter(self)
                handler.addFilter(log_filter)
                self._filters.append((handler, log_filter))
                self._replaced.extend((handler, replaced) for replaced in own)

    def remove_log_filter(self) -> None:
        """Take the filters :meth:`install_log_filter` added off their handlers, and give
        back the ones it replaced."""
        for handler, log_filter in self._filters:
            handler.removeFilter(log_filter)
        for handler, replaced in self._replaced:
            handler.addFilter(replaced)
        self._filters = []
        self._replaced = []


def classify_arguments(redactor: Redactor, arguments: Any) -> frozenset[str]:
    """The data classes (``email``, ``card``, …) the redactor finds in a tool call's
    arguments; ``arguments`` is not changed.

    The one classification both data-flow enforcement points use: the tool gateway's
    :class:`~pilothouse.runtime.tools.data_flow.DataFlowGateway` and the Cedar context's
    ``data_classes`` (compared with a tool's
    :attr:`~pilothouse.control.tool_contract.ToolContract.cleared_data_classes`). Classes a
    policy turns ``off`` are not looked for, so they are never reported.
    """
    return frozenset(data_class.value for data_class in redactor.redact_json(arguments).found)


class _BoundaryFilter(logging.Filter):
    """A :class:`RedactingFilter` that follows the boundary's redactor as policies change."""

    def __init__(self, boundary: DataBoundary) -> None:
        super().__init__()
        self._boundary = boundary
        self._current: tuple[Redactor, RedactingFilter] | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        redactor = self._boundary.redactor
        if self._current is None or self._current[0] is not redactor:
            self._current = (redactor, RedactingFilter(redactor))
        return self._current[1].filter(record)
