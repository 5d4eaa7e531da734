"""What the CLI's commands share: opening the store, and printing."""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson
import typer

from pilothouse.control.environments import Environments
from pilothouse.control.releases import Releases
from pilothouse.errors import PilothouseError
from pilothouse.settings import Settings
from pilothouse.storage.sql.store import SQLStore

T = TypeVar("T")


def with_control(
    store_url: str | None, work: Callable[[Releases, Environments], Awaitable[T]]
) -> T:
    """Open the store, run ``work`` with the control-plane services, close the store.

    A :class:`PilothouseError` is printed (message and code) and ends the command with
    exit code 1 instead of a traceback.
    """

    async def go(store: SQLStore, settings: Settings) -> T:
        releases = Releases(store.releases, settings.release_cache)
        environments = Environments(store.releases, releases, tuple(settings.environments))
        return await work(releases, environments)

    return with_store(store_url, go)


def with_store(store_url: str | None, work: Callable[[SQLStore, Settings], Awaitable[T]]) -> T:
    """Open (and migrate) the store, run ``work``, close the store; errors as in
    :func:`with_control`."""
    settings = Settings() if store_url is None else Settings(store=store_url)

    async def go() -> T:
        store = SQLStore(settings.store)
        await store.start()
        try:
            return await work(store, settings)
        finally:
            await store.close()

    try:
        return asyncio.run(go())
    except PilothouseError as exc:
        typer.echo(f"error: {exc.message} ({exc.code})", err=True)
        raise typer.Exit(1) from None


def actor(given: str | None) -> str:
    """Who is acting: ``--by``, else the operating-system user."""
    return given or getpass.getuser()


def emit(payload: Any) -> None:
    """Print JSON (indented) to standard output."""
    typer.echo(orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode())
