"""A prepared response: the request, its resolved context, and how to build its objects.

:class:`Turn` is the explicit state that the response service steps through. It owns
nothing asynchronous; it knows how to render the response object in any state and how
to turn the conversation so far into a provider-neutral :class:`ModelRequest`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from pilothouse.protocol.requests import CreateResponse
from pilothouse.protocol.resource import TERMINAL_STATUSES, build_resource
from pilothouse.runtime.history import model_view, upstream_items
from pilothouse.runtime.providers.base import FORWARDED, Item, ModelRequest, ModelResult
from pilothouse.runtime.providers.router import Resolved
from pilothouse.storage.base import StoredResponse

if TYPE_CHECKING:
    from pilothouse.control.principal import Principal


@dataclass(slots=True)
class RequestContext:
    """Who is asking and how to correlate the request.

    Attributes:
        tenant: The caller's tenant; every read and write is scoped to it.
        request_id: ``X-Request-ID`` from the client or minted at ingress.
        upstream_headers: Correlation headers forwarded to model providers.
        idempotency_key: The client's ``Idempotency-Key`` header, if any.
        principal: The authenticated API key (id, tenant, roles, scopes); ``None`` only
            where no key is involved (internal calls such as recovery).
    """

    tenant: str = "default"
    request_id: str = ""
    upstream_headers: dict[str, str] = field(default_factory=dict)
    idempotency_key: str | None = None
    principal: Principal | None = None


@dataclass(slots=True)
class Turn:
    """One response being produced."""

    id: str
    created_at: int
    request: CreateResponse
    model: str
    resolved: Resolved
    input_items: list[Item]
    history: list[Item]
    context: RequestContext
    instructions: str | list[Item] | None = None

    @property
    def store(self) -> bool:
        """Whether the response is persisted (``store`` defaults to true)."""
        return self.request.store is not False

    def resource(
        self, status: str, result: ModelResult | None = None, **extra: Any
    ) -> dict[str, Any]:
        """The response object in ``status``, with the model's result when there is one."""
        finished = status in TERMINAL_STATUSES
        resource = build_resource(
            self.request,
            response_id=self.id,
            created_at=self.created_at,
            status=status,
            model=self.model,
            output=result.output if result else None,
            usage=result.usage if result else None,
            incomplete_details=result.incomplete_details if result else None,
            error=result.error if result else None,
            completed_at=int(time.time()) if finished and status == "completed" else None,
            **extra,
        )
        if result is not None and result.extension is not None:
            resource["pilothouse"] = result.extension
        return resource

    def model_request(self) -> ModelRequest:
        """The provider-neutral request: history, then this turn's input.

        Providers see history as a model does (:func:`model_view`, without our ids); a
        provider that sets ``raw_history`` (an agent run, which must see its earlier
        ``mcp_*`` items) gets the stored items and converts them itself.
        """
        options = {
            key: value
            for key in FORWARDED
            if (value := getattr(self.request, key, None)) is not None
        }
        history = self.history + self.input_items
        if not getattr(self.resolved.provider, "raw_history", False):
            history = upstream_items(model_view(history))
        return ModelRequest(
            model=self.resolved.upstream_model,
            input=history,
            instructions=self.instructions,
            tools=list(self.request.tools or []),
            options=options,
            extra=_forwardable_extras(self.request.extras),
            headers=self.context.upstream_headers,
        )

    def record(self, resource: dict[str, Any]) -> StoredResponse:
        """The stored form of ``resource``."""
        return StoredResponse(
            id=self.id,
            tenant=self.context.tenant,
            created_at=self.created_at,
            status=resource["status"],
            model=self.model,
            resource=orjson.dumps(resource).decode(),
            input_items=orjson.dumps(self.input_items).decode(),
            previous_response_id=self.request.previous_response_id,
            conversation_id=self.request.conversation_id,
            background=bool(self.request.background),
            sources=(resource, self.input_items),
        )


# Extension keys that are ours, never an upstream's.
_OWN_EXTRAS = frozenset({"agent_reference", "limits"})


def _forwardable_extras(extras: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in extras.items() if k not in _OWN_EXTRAS}
