"""How observability attaches to the runtime: the few functions ``wiring.py`` calls.

Each returns the runtime object to use, observed: the routing table for plain requests
(``chat`` spans and model metrics around every provider), the observer of agent runs, the
adapter wrapper that puts attempts on tool spans, and the response service with its
queue depth watched. Keeping them here keeps the composition root to one line each.
"""

from __future__ import annotations

from collections.abc import Callable

from pilothouse.observability.telemetry import Telemetry
from pilothouse.observability.tracing.model import ObservedProvider
from pilothouse.observability.tracing.run import TracedRuns
from pilothouse.observability.tracing.tools import AttemptEvents
from pilothouse.runtime.agent.observer import RunObserver
from pilothouse.runtime.providers.base import ModelProvider
from pilothouse.runtime.providers.router import ModelRouter
from pilothouse.runtime.responses import ResponseService
from pilothouse.runtime.tools.base import ToolAdapter


def observed_router(router: ModelRouter, telemetry: Telemetry) -> ModelRouter:
    """A routing table over the same routes whose providers are observed.

    The response service uses it for plain model requests; agent runs keep the bare
    table, since their observer wraps the run's model itself (priced, under the run's
    span). Closing stays the bare table's job.
    """
    providers: dict[str, ModelProvider] = {
        name: ObservedProvider(provider, telemetry) for name, provider in router.providers.items()
    }
    return ModelRouter(providers, router.routes, router.renames)


def traced_runs(telemetry: Telemetry) -> RunObserver:
    """The observer of agent runs."""
    return TracedRuns(telemetry)


def attempt_wrapper(telemetry: Telemetry) -> Callable[[ToolAdapter], ToolAdapter] | None:
    """Wraps each tool adapter so attempts show on their call's span (None: tracing off)."""
    if telemetry.tracer is None:
        return None
    return lambda adapter: AttemptEvents(adapter, telemetry)


def observe_queue(service: ResponseService, telemetry: Telemetry) -> ResponseService:
    """Export the number of background runs in flight in ``service``."""
    live = service.live
    telemetry.live.watch_queue(live.background_count)
    return service
