"""The ASGI application factory. No business logic lives here: routes call services."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware

from pilothouse.api.auth import AuthMiddleware
from pilothouse.api.correlation import CorrelationMiddleware
from pilothouse.api.errors import on_http_exception, on_pilothouse_error, on_unexpected
from pilothouse.api.rate_limit import RequestRateMiddleware
from pilothouse.api.routes import (
    admin,
    approvals,
    control,
    conversations,
    feedback,
    keys,
    metrics,
    responses,
    system,
    tenants,
)
from pilothouse.errors import PilothouseError
from pilothouse.observability.ingress import IngressObserver
from pilothouse.observability.telemetry import configure_process_logging
from pilothouse.settings import Settings
from pilothouse.wiring import Services, build_services


def create_app(settings: Settings | None = None, services: Services | None = None) -> Starlette:
    """The Pilothouse app over ``services`` (built from ``settings`` when omitted)."""
    if services is None:
        services = build_services(settings or Settings())
    ready = services

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await ready.start()
        if ready.settings.gc_tuning:
            tune_gc()
        try:
            yield
        finally:
            await ready.close()

    app = Starlette(
        routes=[
            *responses.routes,
            *feedback.routes,
            *conversations.routes,
            *system.routes,
            *admin.routes,
            *keys.routes,
            *approvals.routes,
            *control.routes,
            *metrics.routes,
            *tenants.routes,
        ],
        middleware=[
            Middleware(CorrelationMiddleware),
            Middleware(IngressObserver, telemetry=services.telemetry),
            Middleware(
                AuthMiddleware,
                keys=services.keys,
                public=frozenset({"/metrics"} if services.settings.metrics_public else ()),
            ),
            Middleware(RequestRateMiddleware, guard=services.budgets),
        ],
        exception_handlers={
            PilothouseError: on_pilothouse_error,
            HTTPException: on_http_exception,
            Exception: on_unexpected,
        },
        lifespan=lifespan,
    )
    app.state.services = services
    return app


def tune_gc() -> None:
    """Keep the cyclic garbage collector off the hot path.

    Everything loaded by now (modules, settings, the object graph) lives for the whole
    process, yet every full collection walked it again: under load that was a quarter of
    the CPU (``bench/RESULTS.md``). Freezing moves it out of the collector's view, and a
    higher first threshold lets short-lived request garbage die young, freed by reference
    counting, before it is ever scanned.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 10, 10)


def app_from_env() -> Starlette:
    """Factory for ``uvicorn --factory`` (each worker builds its own graph from env)."""
    settings = Settings()
    configure_process_logging(settings)
    return create_app(settings)
