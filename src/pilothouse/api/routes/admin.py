"""The admin API: kill switches, and resume, replay and journals of agent runs.

Paths live under ``/admin/v1`` and need a key with the ``operate`` role
(:mod:`pilothouse.api.auth`).
"""

from __future__ import annotations

from dataclasses import asdict

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pilothouse.api.http import context, json_body, json_response, services
from pilothouse.api.run_query import run_query
from pilothouse.errors import InvalidRequest, NotFound
from pilothouse.observability.scorecard.build import (
    load_scorecard,
    parse_duration,
    window_end_now,
)
from pilothouse.runtime.agent import recovery
from pilothouse.storage.outcomes import run_summary


async def get_switches(request: Request) -> Response:
    """GET /admin/v1/kill-switches: engaged switches and their reasons."""
    switches = services(request).switches
    await switches.refresh(force=True)
    engaged = switches.engaged()
    return json_response(
        {
            "object": "list",
            "data": [
                {"target": name, "engaged": True, "reason": reason}
                for name, reason in engaged.items()
            ],
        }
    )


async def set_switch(request: Request) -> Response:
    """POST /admin/v1/kill-switches ``{target, engaged, reason}``; ``*`` is every agent."""
    body = await json_body(request)
    target = body.get("target") if isinstance(body, dict) else None
    engaged = body.get("engaged") if isinstance(body, dict) else None
    if not isinstance(target, str) or not target:
        raise InvalidRequest("'target' must be an agent name or '*'.", param="target")
    if not isinstance(engaged, bool):
        raise InvalidRequest("'engaged' must be true or false.", param="engaged")
    reason = str(body.get("reason") or "engaged through the admin API")
    await services(request).switches.set(target, engaged, reason)
    return json_response({"target": target, "engaged": engaged, "reason": reason})


async def list_runs(request: Request) -> Response:
    """GET /admin/v1/runs?agent=&status=&since=7d&limit=50: the newest runs first."""
    found = services(request)
    if found.outcomes is None:
        raise NotFound("This store keeps no runs.", code="no_journal")
    query = run_query(request.query_params)
    runs = await found.outcomes.find_runs(context(request).tenant, query)
    return json_response({"object": "list", "data": [run_summary(r) for r in runs]})


async def scorecard(request: Request) -> Response:
    """GET /admin/v1/scorecard?since=7d&agent=: the scorecard of the window ending now."""
    found = services(request)
    if found.outcomes is None:
        raise NotFound("This store keeps no runs.", code="no_journal")
    span = parse_duration(request.query_params.get("since", "7d"))
    card = await load_scorecard(
        found.outcomes,
        context(request).tenant,
        span,
        window_end_now(),
        request.query_params.get("agent") or None,
    )
    return json_response(card.to_dict())


async def resume(request: Request) -> Response:
    """POST /admin/v1/runs/{run_id}/resume: continue a run from its journal."""
    resource = await services(request).responses.resume(
        context(request).tenant, request.path_params["run_id"]
    )
    return json_response(resource)


async def replay(request: Request) -> Response:
    """GET /admin/v1/runs/{run_id}/replay: re-execute from the journal, no live calls."""
    found = services(request)
    report = await recovery.replay(
        found.agents, found.journal, context(request).tenant, request.path_params["run_id"]
    )
    return json_response(report.to_dict())


async def journal(request: Request) -> Response:
    """GET /admin/v1/runs/{run_id}/journal: the run's journal entries."""
    journal_store = services(request).journal
    run_id = request.path_params["run_id"]
    tenant = context(request).tenant
    if journal_store is None or await journal_store.get_run(tenant, run_id) is None:
        raise NotFound(f"Run '{run_id}' not found.", param="run_id")
    entries = await journal_store.read(run_id)
    return json_response({"object": "list", "data": [asdict(e) for e in entries]})


routes = [
    Route("/admin/v1/runs", list_runs, methods=["GET"]),
    Route("/admin/v1/scorecard", scorecard, methods=["GET"]),
    Route("/admin/v1/kill-switches", get_switches, methods=["GET"]),
    Route("/admin/v1/kill-switches", set_switch, methods=["POST"]),
    Route("/admin/v1/runs/{run_id}/resume", resume, methods=["POST"]),
    Route("/admin/v1/runs/{run_id}/replay", replay, methods=["GET"]),
    Route("/admin/v1/runs/{run_id}/journal", journal, methods=["GET"]),
]
