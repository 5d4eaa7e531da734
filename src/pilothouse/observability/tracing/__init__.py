"""OpenTelemetry traces following the GenAI semantic conventions.

One trace per request::

    POST /v1/responses                     (server span, ingress.py; parent: traceparent)
     └ invoke_agent {agent}                (run.py; one per agent run)
        ├ chat {model}                     (model.py; one per model call)
        └ execute_tool {tool}              (tools.py; one per governed tool call,
                                            an ``attempt`` event per attempt)

A plain model request has the server span and one ``chat`` span. Spans are passed
explicitly (through the ``traceparent`` each request already carries), never through
OpenTelemetry's ambient context, so async generators and task groups cannot detach the
wrong context. The ``traceparent`` sent upstream and to tools names the span of that
call, so a tool server's own spans join the same trace under ``execute_tool``.

With tracing off (the default) no span is created; the wrappers still feed metrics.
"""

from pilothouse.observability.tracing.setup import build_tracer_provider

__all__ = ["build_tracer_provider"]
