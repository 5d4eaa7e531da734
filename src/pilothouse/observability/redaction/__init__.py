"""Data boundaries: secrets and PII are redacted before anything is persisted, logged or exported.

Build one :class:`Redactor` at start-up from the release's :class:`RedactionPolicy` and
the process's :class:`SecretsRegistry` (every provider key, client API key and tool auth
header resolved at start-up goes into the registry), then:

* before persisting or exporting a payload: ``redactor.redact_json(payload).value``;
* for a string: ``redactor.redact_text(text).text``;
* for logs: ``handler.addFilter(RedactingFilter(redactor))`` on every handler.

Both redact calls also report the classes they found (``.found``), for metrics and for
data-flow policy.

Modules: :mod:`.classes` (vocabulary and marker shapes), :mod:`.detectors` (the detector
interface; emails, IBANs, credentials), :mod:`.digit_runs` (cards, phone numbers),
:mod:`.secrets_registry` (known secret values), :mod:`.policy` (the per-release
configuration), :mod:`.redactor` (the engine), :mod:`.log_filter` (logging).
"""

from pilothouse.observability.redaction.classes import DataClass, RedactionMode, Span
from pilothouse.observability.redaction.log_filter import RedactingFilter
from pilothouse.observability.redaction.policy import RedactionPolicy
from pilothouse.observability.redaction.redactor import Redacted, RedactedJSON, Redactor
from pilothouse.observability.redaction.secrets_registry import SecretsRegistry

__all__ = [
    "DataClass",
    "Redacted",
    "RedactedJSON",
    "RedactingFilter",
    "RedactionMode",
    "RedactionPolicy",
    "Redactor",
    "SecretsRegistry",
    "Span",
]
