"""The ``pilothouse`` command."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from pilothouse.cli.approvals import approvals_app
from pilothouse.cli.contracts import contracts_app
from pilothouse.cli.keys import keys_app
from pilothouse.cli.release import bundle_app, env_app, release_app
from pilothouse.cli.runs import runs_app
from pilothouse.cli.scorecard import scorecard
from pilothouse.settings import Settings

app = typer.Typer(
    name="pilothouse",
    help="A self-hosted runtime for governed AI agents that speaks the OpenAI Responses API.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Pilothouse command line."""


app.add_typer(release_app, name="release")
app.add_typer(env_app, name="env")
app.add_typer(bundle_app, name="bundle")
app.add_typer(contracts_app, name="contracts")
app.add_typer(keys_app, name="keys")
app.add_typer(runs_app, name="runs")
app.command()(scorecard)
app.add_typer(approvals_app, name="approvals")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    store: Annotated[
        str | None, typer.Option(help="Store URL: sqlite:///path.db or postgresql://…")
    ] = None,
    bundle: Annotated[Path | None, typer.Option(help="Agent bundle directory.")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes.")] = None,
    providers_file: Annotated[
        Path | None, typer.Option(help="YAML file with providers and routes.")
    ] = None,
    log_level: Annotated[str | None, typer.Option(help="Log level.")] = None,
) -> None:
    """Serve the Responses and Conversations APIs (settings also from PILOTHOUSE_* vars)."""
    overrides = {
        "host": host,
        "port": port,
        "store": store,
        "bundle": bundle,
        "workers": workers,
        "providers_file": providers_file,
        "log_level": log_level,
    }
    for name, value in overrides.items():
        if value is not None:  # workers re-read settings from the environment
            os.environ[f"PILOTHOUSE_{name.upper()}"] = str(value)
    settings = Settings()
    if settings.workers > 1:  # once, before the workers start (one process migrates itself)
        _migrate(settings)
    _announce(settings)
    _run(settings)


def _migrate(settings: Settings) -> None:
    """Bring the store to the newest schema once, before any worker starts."""
    from pilothouse.storage.sql.store import SQLStore

    async def go() -> None:
        store = SQLStore(settings.store)
        try:
            await store.start()
        finally:
            await store.close()

    asyncio.run(go())


def _announce(settings: Settings) -> None:
    _, routes = settings.resolved_providers()
    default = next((r.provider for r in routes if r.match == "*"), "scripted")
    typer.echo(
        f"Pilothouse listening on http://{settings.host}:{settings.port}/v1 "
        f"(store {settings.store.split('://')[0]}, default model provider '{default}', "
        f"{settings.workers} worker(s))",
        err=True,
    )


def _run(settings: Settings) -> None:
    import uvicorn

    target: Any = "pilothouse.api.app:app_from_env"
    if settings.workers <= 1:
        from pilothouse.api.app import create_app
        from pilothouse.observability.telemetry import configure_process_logging

        configure_process_logging(settings)
        target = create_app(settings)
    uvicorn.run(
        target,
        factory=settings.workers > 1,
        workers=settings.workers if settings.workers > 1 else None,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=False,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        timeout_graceful_shutdown=10,
    )


def main() -> None:
    """Console-script entry point."""
    app()
