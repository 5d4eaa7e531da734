"""The tracer provider a process uses, with the exporter the settings name.

``trace_exporter``: ``none`` (default: no tracer, no span is ever created), ``console``,
``jsonl`` (``trace_file``), ``otlp-http`` or ``otlp-grpc`` (``trace_endpoint``; without
it the exporter's own default and the standard ``OTEL_EXPORTER_OTLP_*`` variables apply).
Real exporters sit behind a ``BatchSpanProcessor`` so that exporting never runs on the
request path. Exporter packages are imported only when chosen (the gRPC one pulls in
``grpcio``).

Each process (and each test server) gets a provider of its own; nothing is installed as
OpenTelemetry's global provider.
"""

from __future__ import annotations

from pathlib import Path

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)

from pilothouse.observability.tracing.jsonl import JsonlSpanExporter

EXPORTERS = ("none", "console", "jsonl", "otlp-http", "otlp-grpc")


def build_exporter(kind: str, endpoint: str | None, file: Path) -> SpanExporter | None:
    """The exporter ``kind`` names (None for ``none``)."""
    if kind == "none":
        return None
    if kind == "console":
        return ConsoleSpanExporter()
    if kind == "jsonl":
        return JsonlSpanExporter(file)
    if kind == "otlp-http":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=endpoint) if endpoint else OTLPSpanExporter()
    if kind == "otlp-grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcExporter,
        )

        return GrpcExporter(endpoint=endpoint) if endpoint else GrpcExporter()
    raise ValueError(f"unknown trace exporter {kind!r}; expected one of {', '.join(EXPORTERS)}")


def build_tracer_provider(
    exporter: SpanExporter | None, *, service_name: str = "pilothouse", batch: bool = True
) -> TracerProvider | None:
    """A provider exporting to ``exporter`` (None: tracing off).

    Args:
        exporter: Where spans go.
        service_name: The ``service.name`` resource attribute.
        batch: A ``BatchSpanProcessor`` (production); False exports each span as it ends
            (tests reading an in-memory exporter).
    """
    if exporter is None:
        return None
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    processor: SpanProcessor = (
        BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
    )
    provider.add_span_processor(processor)
    return provider
