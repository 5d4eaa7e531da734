"""The incident desk: a small HTTP service that the ``support-desk`` example agent calls.

Endpoints (JSON in and out):

==================================  ====================================================
``GET /tickets/{ticket_id}``        a ticket: status, priority, service, summary, owner
``GET /kb/search?query=&limit=``    knowledge-base articles ranked by shared words
``POST /incidents/{id}/notes``      add a note (a side effect, applied once per
                                    ``Idempotency-Key``)
``GET /incidents/{id}/notes``       the notes of an incident
``GET /healthz``                    liveness
==================================  ====================================================

Run it with ``python -m examples.desk_service --port 8090`` (``make run`` does). The data
is in memory and seeded with a few tickets and articles; ``--latency-ms`` adds a fixed
delay to every answer (the benchmark uses 5 ms).
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TICKETS: dict[str, dict[str, Any]] = {
    "INC-24531": {
        "ticket_id": "INC-24531",
        "status": "open",
        "priority": "P2",
        "service": "checkout-api",
        "summary": "Checkout latency p95 above 2 s since deploy 2026.11.20; timeouts to the "
        "payments gateway.",
        "owner": "payments-oncall",
        "updated_at": "2026-11-23T08:12:00Z",
    },
    "INC-24532": {
        "ticket_id": "INC-24532",
        "status": "mitigated",
        "priority": "P3",
        "service": "search",
        "summary": "Search results stale for EU users; index replication lag.",
        "owner": "search-team",
        "updated_at": "2026-11-22T17:40:00Z",
    },
    "INC-24533": {
        "ticket_id": "INC-24533",
        "status": "resolved",
        "priority": "P1",
        "service": "login",
        "summary": "Login failures after certificate rotation.",
        "owner": "identity-oncall",
        "updated_at": "2026-11-21T03:05:00Z",
    },
}

ARTICLES: list[dict[str, str]] = [
    {
        "id": "KB-101",
        "title": "Checkout latency after a deploy",
        "body": "If checkout latency rises after a deploy, compare payments gateway timeouts "
        "with the previous release and roll back the deploy when timeouts exceed 1%.",
    },
    {
        "id": "KB-102",
        "title": "Payments gateway timeouts",
        "body": "Timeouts to the payments gateway: check the connection pool size, the "
        "gateway status page, and raise the client timeout only as a last resort.",
    },
    {
        "id": "KB-201",
        "title": "Index replication lag",
        "body": "Stale search results usually mean replication lag; restart the lagging "
        "replica and confirm the index version matches the primary.",
    },
    {
        "id": "KB-301",
        "title": "Certificate rotation checklist",
        "body": "After rotating certificates, restart the login service and verify the chain "
        "with the identity provider before closing the incident.",
    },
]

_WORD = re.compile(r"[a-z0-9]+")


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) > 2}


@dataclass
class Desk:
    """The service's state: notes per incident and the idempotency ledger."""

    latency_s: float = 0.0
    notes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    ledger: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def pause(self) -> None:
        """The configured latency."""
        if self.latency_s:
            await asyncio.sleep(self.latency_s)


DESK = web.AppKey("desk", Desk)


def create_app(latency_s: float = 0.0) -> web.Application:
    """The desk service as an aiohttp application; its state is ``app[DESK]``."""
    desk = Desk(latency_s)
    app = web.Application()
    app[DESK] = desk

    async def ticket(request: web.Request) -> web.Response:
        await desk.pause()
        found = TICKETS.get(request.match_info["ticket_id"].upper())
        if found is None:
            return web.json_response({"error": {"message": "no such ticket"}}, status=404)
        return web.json_response(found)

    async def search(request: web.Request) -> web.Response:
        await desk.pause()
        query = _words(request.query.get("query", ""))
        limit = max(1, min(10, int(request.query.get("limit", "3") or 3)))
        ranked = sorted(
            ((len(query & _words(a["title"] + " " + a["body"])), a) for a in ARTICLES),
            key=lambda pair: -pair[0],
        )
        results = [
            {"id": a["id"], "title": a["title"], "snippet": a["body"][:160], "score": score}
            for score, a in ranked[:limit]
            if score > 0
        ]
        return web.json_response({"results": results})

    async def add_note(request: web.Request) -> web.Response:
        await desk.pause()
        key = request.headers.get("Idempotency-Key")
        if key is not None and key in desk.ledger:
            return web.json_response(desk.ledger[key], status=201)
        incident = request.match_info["ticket_id"].upper()
        if incident not in TICKETS:
            return web.json_response({"error": {"message": "no such incident"}}, status=404)
        body = await request.json()
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text.strip():
            return web.json_response({"error": {"message": "'text' is required"}}, status=400)
        notes = desk.notes.setdefault(incident, [])
        note = {
            "note_id": f"{incident}-N{len(notes) + 1}",
            "ticket_id": incident,
            "text": text,
            "created_at": int(time.time()),
        }
        notes.append(note)
        if key is not None:
            desk.ledger[key] = note
        return web.json_response(note, status=201)

    async def list_notes(request: web.Request) -> web.Response:
        incident = request.match_info["ticket_id"].upper()
        return web.json_response({"notes": desk.notes.get(incident, [])})

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app.router.add_get("/tickets/{ticket_id}", ticket)
    app.router.add_get("/kb/search", search)
    app.router.add_post("/incidents/{ticket_id}/notes", add_note)
    app.router.add_get("/incidents/{ticket_id}/notes", list_notes)
    app.router.add_get("/healthz", healthz)
    return app
