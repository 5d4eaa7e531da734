"""A span exporter that appends one JSON object per span to a file.

No maintained OpenTelemetry package writes JSON Lines (the console exporter writes
indented JSON to a stream, one span spread over many lines), and a file of one span per
line is what ``jq``, ``grep`` and log shippers want. The shape is the SDK's own
``ReadableSpan.to_json`` compacted, so it matches what the console exporter prints.
Used behind a ``BatchSpanProcessor``: ``export`` runs on the processor's thread.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import orjson
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult


class JsonlSpanExporter(SpanExporter):
    """Appends spans to ``path`` as JSON Lines (the directory is created if missing)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("ab")
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Write ``spans``, one line each, and flush."""
        lines = b"".join(
            orjson.dumps(orjson.loads(span.to_json(indent=None))) + b"\n" for span in spans
        )
        with self._lock:
            if self._file.closed:
                return SpanExportResult.FAILURE
            self._file.write(lines)
            self._file.flush()
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Close the file."""
        with self._lock:
            self._file.close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Every export is flushed already."""
        return True
