"""``pilothouse keys``: the CLI writes to the store a server reads, so a key created on the
command line works at once, and a revoked one stops at once; the database holds digests only."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import asyncpg
import httpx2 as httpx
import orjson
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from pilothouse.cli.main import app
from pilothouse.testing import ServerThread


def _run(*args: str) -> object:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _status(server: ServerThread, key: str) -> int:
    with httpx.Client(base_url=server.root_url, headers={"Authorization": f"Bearer {key}"}) as h:
        return h.get("/v1/models").status_code


def test_create_list_revoke_against_a_live_server(server: ServerThread) -> None:
    store = server.settings.store
    created = _run(
        "keys",
        "create",
        "--tenant",
        "cli-t",
        "--role",
        "invoke",
        "--role",
        "approve",
        "--agents",
        "support-desk",
        "--name",
        "ops",
        "--store",
        store,
    )
    assert isinstance(created, dict)
    key = created["key"]
    assert created["roles"] == ["approve", "invoke"]
    assert created["scopes"] == {"agents": ["support-desk"]}
    assert _status(server, key) == 200

    listed = _run("keys", "list", "--tenant", "cli-t", "--store", store)
    assert isinstance(listed, list) and [k["id"] for k in listed] == [created["id"]]
    assert "key" not in listed[0]

    revoked = _run("keys", "revoke", created["id"], "--store", store)
    assert isinstance(revoked, dict) and revoked["revoked_at"] is not None
    assert _status(server, key) == 401


def test_the_store_holds_no_key_in_clear(server: ServerThread) -> None:
    store = server.settings.store
    created = _run("keys", "create", "--tenant", "dump", "--role", "invoke", "--store", store)
    assert isinstance(created, dict)
    if store.startswith("postgresql"):

        async def dump() -> str:
            conn = await asyncpg.connect(store)
            try:
                rows = await conn.fetch("SELECT * FROM api_keys")
            finally:
                await conn.close()
            return orjson.dumps([dict(r) for r in rows], default=str).decode()

        everything = asyncio.run(dump())
    else:
        with create_engine(store).connect() as conn:
            everything = str(conn.execute(text("SELECT * FROM api_keys")).all())
    assert created["key"] not in everything
    assert created["key"][12:] not in everything
    assert created["prefix"] in everything


def test_unknown_role_fails_with_a_message(server: ServerThread) -> None:
    result = CliRunner().invoke(
        app, ["keys", "create", "--tenant", "t", "--role", "root", "--store", server.settings.store]
    )
    assert result.exit_code == 1
    assert "Unknown role 'root'" in result.output


def test_dev_key_is_made_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / "dev-key"
    first = CliRunner().invoke(app, ["keys", "dev", "--path", str(path)]).output.strip()
    again = CliRunner().invoke(app, ["keys", "dev", "--path", str(path)]).output.strip()
    assert first == again and first.startswith("phk_")
    assert path.stat().st_mode & 0o777 == 0o600


def test_limits_set_on_the_command_line_hold_on_the_server(server: ServerThread) -> None:
    store = server.settings.store
    args = ["keys", "create", "--tenant", "cli-l", "--role", "invoke", "--store", store]
    created = _run(*args, "--rpm", "0", "--usd-per-day", "2.5")
    assert isinstance(created, dict)
    assert created["limits"] == {"rpm": 0, "tpm": None, "usd_per_day": 2.5}
    with httpx.Client(
        base_url=server.root_url, headers={"Authorization": f"Bearer {created['key']}"}
    ) as h:
        refused = h.post("/v1/responses", json={"model": "gpt-4o-mini", "input": "hi"})
        assert refused.status_code == 429  # rpm 0: no requests at all, whatever the clock
        assert refused.json()["error"]["code"] == "rate_limit_requests"
        assert h.get("/v1/models").status_code == 200  # reads are not counted
    bad = CliRunner().invoke(app, [*args, "--tpm", "-3"])
    assert bad.exit_code == 1 and "limits.tpm" in bad.output
