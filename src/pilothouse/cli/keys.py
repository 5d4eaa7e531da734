"""``pilothouse keys …``: create (the key is printed once), list and revoke API keys.

These work on the store directly (``--store`` or ``PILOTHOUSE_STORE``), as an operator on
the database host would; the same operations exist over HTTP under ``/admin/v1/keys``.
``keys dev`` prints the development key that ``make run`` serves with.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Annotated

import typer

from pilothouse.cli.common import emit, with_store
from pilothouse.control.budgets import BudgetLimits
from pilothouse.control.keys import KeyService, mint, public_view
from pilothouse.control.principal import Scopes
from pilothouse.settings import Settings
from pilothouse.storage.sql.store import SQLStore

keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)

Store = Annotated[
    str | None, typer.Option("--store", help="Store URL (default: PILOTHOUSE_STORE).")
]


def _service(store: SQLStore) -> KeyService:
    pepper = Settings().key_pepper
    return KeyService(store.keys, pepper=pepper.get_secret_value() if pepper else None)


@keys_app.command("create")
def create(
    tenant: Annotated[str, typer.Option("--tenant", help="The tenant the key belongs to.")],
    role: Annotated[
        list[str], typer.Option("--role", help="invoke, approve, operate or admin (repeat).")
    ],
    agents: Annotated[
        str | None, typer.Option("--agents", help="Limit to these agents (comma-separated).")
    ] = None,
    tools: Annotated[
        str | None, typer.Option("--tools", help="Limit to these tools (comma-separated).")
    ] = None,
    environments: Annotated[
        str | None, typer.Option("--environments", help="Limit to these environments.")
    ] = None,
    name: Annotated[str, typer.Option("--name", help="A label for listings.")] = "",
    rpm: Annotated[int | None, typer.Option("--rpm", help="Requests per minute.")] = None,
    tpm: Annotated[int | None, typer.Option("--tpm", help="Tokens per minute.")] = None,
    usd_per_day: Annotated[
        float | None, typer.Option("--usd-per-day", help="Spend per UTC day, in USD.")
    ] = None,
    store: Store = None,
) -> None:
    """Create a key and print it: this is the only time it is shown."""
    scopes = Scopes(_names(agents), _names(tools), _names(environments))

    async def work(sql: SQLStore) -> dict[str, object]:
        limits = BudgetLimits.parse({"rpm": rpm, "tpm": tpm, "usd_per_day": usd_per_day})
        key, record = await _service(sql).create(
            tenant, role, scopes, name, f"cli:{getpass.getuser()}", limits
        )
        return {**public_view(record), "key": key}

    emit(with_store(store, work))


@keys_app.command("list")
def list_keys(
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant.")] = None,
    store: Store = None,
) -> None:
    """List keys (prefix, roles, scopes, revocation; never the key or its digest)."""

    async def work(sql: SQLStore) -> list[dict[str, object]]:
        return [public_view(k) for k in await _service(sql).list(tenant)]

    emit(with_store(store, work))


@keys_app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (key_…).")],
    store: Store = None,
) -> None:
    """Revoke a key; servers refuse it from their next request on."""

    async def work(sql: SQLStore) -> dict[str, object]:
        return public_view(await _service(sql).revoke(key_id, None))

    emit(with_store(store, work))


@keys_app.command("dev")
def dev_key(
    path: Annotated[Path, typer.Option("--path", help="Where the key is kept.")] = Path(
        ".pilothouse/dev-key"
    ),
) -> None:
    """Print the development key (made on first use, kept in a 0600 file).

    ``make run`` serves with it as ``PILOTHOUSE_ADMIN_KEY``; never use it in production.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(mint() + "\n")
    typer.echo(path.read_text().strip())


def _names(raw: str | None) -> frozenset[str] | None:
    return None if raw is None else frozenset(n.strip() for n in raw.split(",") if n.strip())
