"""``pilothouse runs``: list agent runs and show one as a timeline tree.

Both read the store directly (``--store`` or ``PILOTHOUSE_STORE``), like the other
operator commands, so they work on a database copied off a broken machine at 2 AM.
"""

from __future__ import annotations

import time
from typing import Annotated

import typer

from pilothouse.cli.common import emit, with_store
from pilothouse.errors import NotFound
from pilothouse.observability import timeline
from pilothouse.observability.scorecard.build import parse_duration
from pilothouse.observability.scorecard.compute import iso
from pilothouse.storage.base import StoredRun
from pilothouse.storage.outcomes import RunQuery, run_summary
from pilothouse.storage.sql.store import SQLStore

runs_app = typer.Typer(help="Agent runs: list them, show one as a timeline.", no_args_is_help=True)

StoreOption = Annotated[
    str | None, typer.Option("--store", help="Store URL (default: PILOTHOUSE_STORE).")
]
TenantOption = Annotated[str, typer.Option(help="Tenant whose runs to read.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


@runs_app.command("list")
def list_runs(
    agent: Annotated[str | None, typer.Option(help="Only this agent's runs.")] = None,
    status: Annotated[str | None, typer.Option(help="Only runs in this status.")] = None,
    since: Annotated[
        str | None, typer.Option(help="Only runs younger than this (7d, 12h).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many.")] = 50,
    tenant: TenantOption = "default",
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """The newest runs first: when, which agent, status and duration."""

    async def work(opened: SQLStore) -> list[StoredRun]:
        start = time.time() - parse_duration(since) if since else None
        query = RunQuery(agent=agent, status=status, since=start, limit=limit)
        return await opened.outcomes.find_runs(tenant, query)

    found = with_store(store, work)
    if as_json:
        emit({"object": "list", "data": [run_summary(r) for r in found]})
        return
    if not found:
        typer.echo("no runs")
        return
    width = max(len(run.id) for run in found)
    typer.echo(f"{'created (UTC)':<21} {'run':<{width}} {'agent':<24} {'status':<11} duration")
    for run in found:
        agent_label = f"{run.agent}@{run.agent_version}"
        typer.echo(
            f"{iso(run.created_at):<21} {run.id:<{width}} {agent_label:<24} {run.status:<11} "
            f"{run.updated_at - run.created_at} s"
        )


@runs_app.command("show")
def show_run(
    run_id: Annotated[str, typer.Argument(help="The run (response) id.")],
    tenant: TenantOption = "default",
    store: StoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """One run as a timeline tree with per-step latency, tokens and cost."""

    async def work(opened: SQLStore) -> timeline.Node:
        run = await opened.journal.get_run(tenant, run_id)
        if run is None:
            raise NotFound(f"Run '{run_id}' not found.", param="run_id")
        return timeline.build(run, await opened.journal.read(run_id))

    tree = with_store(store, work)
    if as_json:
        emit(tree.to_dict())
    else:
        typer.echo(timeline.render(tree), nl=False)
