"""Resuming a paused background run once an approver has decided.

A run that waits for an approval ends its response with an ``mcp_approval_request``.
A client continues it itself (``previous_response_id`` and an ``mcp_approval_response``);
a background run has nobody waiting, so a decision through the admin API or the CLI
starts the continuation here: a new background response chained to the paused one,
answering the approval, run as the principal stored with the paused run (never as the
approver, so four-eyes and scopes keep their meaning).
"""

from __future__ import annotations

from typing import Any

import orjson

from pilothouse.protocol.requests import CreateResponse
from pilothouse.runtime.agent.policy_gate import principal_from_json
from pilothouse.runtime.responses import Finished, ResponseService
from pilothouse.runtime.turn import RequestContext
from pilothouse.storage.approvals import StoredApproval
from pilothouse.storage.base import JournalStore, Store


async def continue_background(
    responses: ResponseService,
    store: Store,
    journal: JournalStore | None,
    approval: StoredApproval,
) -> str | None:
    """Start the continuation of ``approval``'s run if it ran in the background; returns
    the new response id (None when the run was a foreground one: its client continues)."""
    paused = await store.get_response(approval.tenant, approval.run_id)
    run = await journal.get_run(approval.tenant, approval.run_id) if journal else None
    if paused is None or run is None or not paused.background:
        return None
    spec: dict[str, Any] = orjson.loads(run.spec)
    answer = {
        "type": "mcp_approval_response",
        "approval_request_id": approval.id,
        "approve": approval.status == "approved",
        "reason": approval.reason,
    }
    request = CreateResponse.model_validate(
        {
            "model": spec["public_model"],
            "previous_response_id": approval.run_id,
            "input": [answer],
            "background": True,
        }
    )
    principal = principal_from_json(spec.get("principal"), approval.tenant)
    context = RequestContext(tenant=approval.tenant, principal=principal)
    outcome = await responses.create(request, context)
    return str(outcome.resource["id"]) if isinstance(outcome, Finished) else None
