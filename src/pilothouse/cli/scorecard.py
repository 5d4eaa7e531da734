"""``pilothouse scorecard``: the weekly reliability scorecard from the store."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from pilothouse.cli.common import emit, parse_time, with_store
from pilothouse.observability.scorecard.build import load_scorecard, parse_duration
from pilothouse.observability.scorecard.compute import Scorecard
from pilothouse.observability.scorecard.html import render_html
from pilothouse.observability.scorecard.markdown import render_markdown
from pilothouse.storage.sql.store import SQLStore


class Format(StrEnum):
    """Output formats."""

    md = "md"
    html = "html"
    json = "json"


def scorecard(
    since: Annotated[str, typer.Option(help="Window length, ending now (or --until).")] = "7d",
    until: Annotated[
        str | None, typer.Option(help="End of the window: ISO-8601 or epoch seconds.")
    ] = None,
    agent: Annotated[str | None, typer.Option(help="Only this agent.")] = None,
    output_format: Annotated[Format, typer.Option("--format", help="md, html or json.")] = (
        Format.md
    ),
    out: Annotated[Path | None, typer.Option(help="Write to this file instead of stdout.")] = None,
    tenant: Annotated[str, typer.Option(help="Tenant whose runs to read.")] = "default",
    store: Annotated[
        str | None, typer.Option("--store", help="Store URL (default: PILOTHOUSE_STORE).")
    ] = None,
) -> None:
    """Per agent and release: latency percentiles, cost per successful task, success rate,
    failure taxonomy, tool error rates, policy events, budget hits, week over week."""

    async def work(opened: SQLStore) -> Scorecard:
        span = parse_duration(since)
        end = parse_time(until, "until")
        return await load_scorecard(opened.outcomes, tenant, span, end, agent)

    card = with_store(store, work)
    if output_format is Format.json and out is None:
        emit(card.to_dict())
        return
    if output_format is Format.json:
        import orjson

        text = orjson.dumps(card.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n"
    else:
        text = render_html(card) if output_format is Format.html else render_markdown(card)
    if out is None:
        typer.echo(text, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    typer.echo(f"scorecard written to {out}", err=True)
