"""What the CLI's commands share: opening the store, and printing."""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
import typer

from pilothouse.control.environments import Environments
from pilothouse.control.releases import Releases
from pilothouse.errors import InvalidRequest, PilothouseError
from pilothouse.observability.scorecard.build import window_end_now
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

    settings = Settings() if store_url is None else Settings(store=store_url)

    async def go(store: SQLStore) -> T:
        releases = Releases(store.releases, settings.release_cache)
        environments = Environments(store.releases, releases, tuple(settings.environments))
        return await work(releases, environments)

    return with_store(store_url, go)


def with_store(store_url: str | None, work: Callable[[SQLStore], Awaitable[T]]) -> T:
    """Open the store (``--store`` or ``PILOTHOUSE_STORE``), run ``work``, close it; a
    :class:`PilothouseError` ends the command with its message and exit code 1."""
    settings = Settings() if store_url is None else Settings(store=store_url)

    async def go() -> T:
        store = SQLStore(settings.store)
        await store.start()
        try:
            return await work(store)
        finally:
            await store.close()

    try:
        return asyncio.run(go())
    except PilothouseError as exc:
        typer.echo(f"error: {exc.message} ({exc.code})", err=True)
        raise typer.Exit(1) from None


def parse_time(text: str | None, param: str) -> float:
    """``--until``: epoch seconds or ISO-8601 (UTC when no offset is given); now if None."""
    if text is None:
        return window_end_now()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest(
            f"'{text}' is neither epoch seconds nor an ISO-8601 time.", param=param
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def actor(given: str | None) -> str:
    """Who is acting: ``--by``, else the operating-system user."""
    return given or getpass.getuser()


def emit(payload: Any) -> None:
    """Print JSON (indented) to standard output."""
    typer.echo(orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode())
