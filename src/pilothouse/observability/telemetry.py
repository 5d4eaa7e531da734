"""One process's telemetry: its tracer (or none), its metrics, and what spans may carry.

:class:`Telemetry` is built once in ``wiring.py`` (:func:`build_telemetry`) and handed to
the small wrappers that observe the runtime (``tracing/model.py``, ``tracing/tools.py``,
``tracing/run.py``, ``ingress.py``). ``tracer`` is None when tracing is off: wrappers
then skip every span call, so tracing off costs a branch per call.

Spans and metric updates are recorded on the request path and finished after it: the
tracer is a :class:`~pilothouse.observability.tracing.spans.SpanRecorder` and the metrics
queue their updates, both on the telemetry's :class:`~pilothouse.observability.backlog.Backlog`
(:meth:`Telemetry.flush` runs what is queued; shutting down does too).

It also holds the spans that are open right now, by span id, so that code which only
has a call's correlation headers can annotate the span of that call:
:meth:`Telemetry.policy_decision` is the hook the policy gate calls.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Tracer as SdkTracer
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.trace import Span

from pilothouse.errors import InvalidRequest
from pilothouse.observability.backlog import Backlog
from pilothouse.observability.metrics.live import LiveCollector
from pilothouse.observability.metrics.registry import Metrics
from pilothouse.observability.redaction import Redactor, SecretsRegistry
from pilothouse.observability.tracing import attributes as attr
from pilothouse.observability.tracing.setup import build_exporter, build_tracer_provider
from pilothouse.observability.tracing.spans import SpanRecorder
from pilothouse.settings import Settings


@dataclass(slots=True)
class Telemetry:
    """Tracer, metrics and content policy of one process. See the module docstring.

    Attributes:
        backlog: Where spans and metric updates are finished, after the request path.
        metrics: The Prometheus series (given the backlog unless they have one).
        live: Gauges computed at scrape time.
        provider: The tracer provider (None: tracing off); shut down on close.
        tracer: What opens spans (None: tracing off); by default a
            :class:`~pilothouse.observability.tracing.spans.SpanRecorder` over
            ``provider``'s tracer.
        capture_content: Whether message content goes on spans (``trace_content``).
        redact: What redacts content and error texts before they reach a span: the
            process's data boundary (``wiring.py`` sets it), which knows every resolved
            secret (provider keys, tool credentials) and the release's redaction policy.
            Without one, captured content still goes through a default redactor.
    """

    backlog: Backlog = field(default_factory=Backlog)
    metrics: Metrics = field(default_factory=Metrics)
    live: LiveCollector = field(default_factory=LiveCollector)
    provider: TracerProvider | None = None
    tracer: SpanRecorder | None = None
    capture_content: bool = False
    redact: Callable[[Any], Any] | None = None
    _open: dict[int, Span] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.metrics.registry.register(self.live)
        if self.metrics.backlog is None:
            self.metrics.backlog = self.backlog
        if self.provider is not None and self.tracer is None:
            sdk_tracer = self.provider.get_tracer("pilothouse")
            assert isinstance(sdk_tracer, SdkTracer)
            self.tracer = SpanRecorder(sdk_tracer, self.backlog)

    # -- spans other code may annotate ------------------------------------------------------

    def opened(self, span: Span) -> None:
        """Make ``span`` findable by its id while it is open."""
        self._open[span.get_span_context().span_id] = span

    def closed(self, span: Span) -> None:
        """Forget ``span`` (it ended)."""
        self._open.pop(span.get_span_context().span_id, None)

    def span_for(self, headers: Mapping[str, str]) -> Span | None:
        """The open span that ``headers["traceparent"]`` names, if it is ours and open."""
        if not self._open:
            return None  # none open (tracing off): the header need not be read
        span_id = attr.span_id_of(headers)
        return self._open.get(span_id) if span_id is not None else None

    def parent_for(self, headers: Mapping[str, str]) -> Context | None:
        """The context to open a span under: the open span of this process that
        ``headers["traceparent"]`` names (a local parent), else the remote span it names,
        else None (a root)."""
        span = self.span_for(headers)
        if span is not None:
            return trace.set_span_in_context(span)
        return attr.parent_context(headers)

    def policy_decision(
        self,
        headers: Mapping[str, str],
        action: str,
        outcome: str,
        policy_ids: Sequence[str] = (),
    ) -> None:
        """Record one policy decision on the span its correlation headers name, and count it.

        The hook for the policy gate: call it once per decision with the correlation
        headers of what is decided on, the Cedar ``action``, the ``outcome`` (``allow``,
        ``deny``, ``needs_approval``) and the ids of the policies that decided. In an agent
        run every decision lands on the ``invoke_agent`` span: ``use_model`` is decided
        with the run's headers, and ``call_tool`` with the call's headers before the call
        is dispatched, when they still name the run's span (a call's ``execute_tool`` span
        opens only if the call is let through).
        """
        self.metrics.policy_decision(action, outcome)
        span = self.span_for(headers)
        if span is not None:
            span.set_attribute(attr.POLICY_OUTCOME, outcome)
            span.set_attribute(attr.POLICY_IDS, list(policy_ids))
            span.add_event("policy.decision", {"action": action, attr.POLICY_OUTCOME: outcome})

    # -- content --------------------------------------------------------------------------

    def content_json(self, value: Any) -> str | None:
        """``value`` as redacted JSON when content capture is on, else None."""
        if not self.capture_content:
            return None
        return orjson.dumps((self.redact or _default_redaction())(value)).decode()

    def safe_text(self, text: str) -> str:
        """``text`` fit for a span (an error message may quote a key): redacted."""
        redact = self.redact or (_default_redaction() if self.capture_content else None)
        return str(redact(text)) if redact is not None else text

    def flush(self) -> None:
        """Finish the queued spans and metric updates now (spans then sit with the span
        processors: the batch processor exports them on its own schedule)."""
        self.backlog.flush()

    def shutdown(self) -> None:
        """Finish what is queued, then flush and stop the span exporter."""
        self.backlog.flush()
        if self.provider is not None:
            self.provider.shutdown()


@functools.cache
def _default_redaction() -> Callable[[Any], Any]:
    """The redaction of content when no data boundary was given (tests, benchmarks)."""
    redactor = Redactor()
    return lambda value: redactor.redact_json(value).value


def secrets_of(settings: Settings) -> SecretsRegistry:
    """A registry of the secrets this process is configured with (provider keys), so that
    logs and captured content can never carry them."""
    registry = SecretsRegistry()
    providers, _ = settings.resolved_providers()
    for provider in providers:
        if provider.api_key is not None:
            with contextlib.suppress(InvalidRequest):  # unresolvable: the provider fails
                registry.add_reference(provider.api_key.get_secret_value())
    if settings.openai_api_key is not None:
        registry.add(settings.openai_api_key.get_secret_value())
    return registry


def build_telemetry(settings: Settings, exporter: SpanExporter | None = None) -> Telemetry:
    """The process's telemetry as ``settings`` ask.

    Args:
        settings: ``trace_exporter``, ``trace_endpoint``, ``trace_file``,
            ``trace_content`` decide tracing.
        exporter: An exporter to use instead (tests pass an in-memory one; spans are then
            exported as they end rather than in batches).
    """
    batch = exporter is None
    if exporter is None:
        exporter = build_exporter(
            settings.trace_exporter, settings.trace_endpoint, settings.trace_file
        )
    provider = build_tracer_provider(exporter, batch=batch)
    return Telemetry(provider=provider, capture_content=settings.trace_content)


def configure_process_logging(settings: Settings) -> None:
    """Structured, correlated, redacted logs for a serving process (``log_format``,
    ``log_level``; see ``observability/logs.py``)."""
    from pilothouse.observability.logs import configure_logging

    configure_logging(settings.log_format, settings.log_level, secrets_of(settings))
