"""A span exporter that appends one JSON object per span to a file.

No maintained OpenTelemetry package writes JSON Lines (the console exporter writes
indented JSON to a stream, one span spread over many lines), and a file of one span per
line is what ``jq``, ``grep`` and log shippers want. The shape is the SDK's own
``ReadableSpan.to_json`` compacted, so it matches what the console exporter prints.
Used behind a ``BatchSpanProcessor``: ``export`` runs on the processor's thread.

The object is built here rather than by ``to_json``, which serialises the span with the
standard library's ``json`` after serialising and parsing its resource again, for every
span: measured here ≈ 48 µs a span against ≈ 18 for this builder and ``orjson`` (≈ 0.2 ms of an
agent run's six spans, on the serving process's core). A test pins the output to
``to_json``'s, line for line.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.util import ns_to_iso_str
from opentelemetry.trace import SpanContext, format_span_id, format_trace_id


class JsonlSpanExporter(SpanExporter):
    """Appends spans to ``path`` as JSON Lines (the directory is created if missing)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("ab")
        self._lock = threading.Lock()
        # A process's spans share one resource: the last one rendered is kept.
        self._resource: tuple[Resource, dict[str, Any]] | None = None

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Write ``spans``, one line each, and flush."""
        lines = b"".join(
            orjson.dumps(self.render(span), default=_json_default) + b"\n" for span in spans
        )
        with self._lock:
            if self._file.closed:
                return SpanExportResult.FAILURE
            self._file.write(lines)
            self._file.flush()
        return SpanExportResult.SUCCESS

    def render(self, span: ReadableSpan) -> dict[str, Any]:
        """The object ``span.to_json()`` describes, ready for ``orjson``."""
        status = span.status
        rendered_status = {"status_code": status.status_code.name}
        if status.description:
            rendered_status["description"] = status.description
        parent = span.parent
        return {
            "name": span.name,
            "context": _context(span.context) if span.context else None,
            "kind": str(span.kind),
            "parent_id": f"0x{format_span_id(parent.span_id)}" if parent is not None else None,
            "start_time": ns_to_iso_str(span.start_time) if span.start_time else None,
            "end_time": ns_to_iso_str(span.end_time) if span.end_time else None,
            "status": rendered_status,
            "attributes": _attributes(span.attributes),
            "events": [
                {
                    "name": event.name,
                    "timestamp": ns_to_iso_str(event.timestamp),
                    "attributes": _attributes(event.attributes),
                }
                for event in span.events
            ],
            "links": [
                {"context": _context(link.context), "attributes": _attributes(link.attributes)}
                for link in span.links
            ],
            "resource": self._rendered_resource(span.resource),
        }

    def _rendered_resource(self, resource: Resource) -> dict[str, Any]:
        known = self._resource
        if known is None or known[0] is not resource:
            rendered = {"attributes": dict(resource.attributes), "schema_url": resource.schema_url}
            known = self._resource = (resource, rendered)
        return known[1]

    def shutdown(self) -> None:
        """Close the file."""
        with self._lock:
            self._file.close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Every export is flushed already."""
        return True


def _context(context: SpanContext) -> dict[str, str]:
    return {
        "trace_id": f"0x{format_trace_id(context.trace_id)}",
        "span_id": f"0x{format_span_id(context.span_id)}",
        "trace_state": repr(context.trace_state),
    }


def _attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return dict(attributes) if attributes is not None else None


def _json_default(value: object) -> str:
    """What ``to_json`` writes for a value JSON has no form for (bytes as hex)."""
    if isinstance(value, bytes | bytearray):
        return value.hex()
    return str(value)
