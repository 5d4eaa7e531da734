"""Requests/min at ingress: each create of a response and each conversation write counts.

The middleware runs after authentication (it needs the principal) and before routing, so
a request over its key's or tenant's requests/min is answered 429 ``rate_limit_requests``
with ``retry-after`` and touches nothing. Reads are not counted. The counting itself is
the ledger's (:mod:`pilothouse.runtime.budgets.ledger`): one conditional update per
configured limit, nothing when the key and tenant have none.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from pilothouse.api.errors import error_response
from pilothouse.errors import PilothouseError
from pilothouse.runtime.budgets.guard import BudgetGuard

_WRITES = frozenset({"POST", "PATCH", "PUT", "DELETE"})


def counted(method: str, path: str) -> bool:
    """Whether a request counts against requests/min."""
    if method not in _WRITES:
        return False
    if path == "/v1/responses":
        return method == "POST"
    return path.startswith("/v1/conversations")


class RequestRateMiddleware:
    """Answers 429 when the caller's requests/min are used up."""

    def __init__(self, app: ASGIApp, guard: BudgetGuard | None) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.guard is not None
            and scope["type"] == "http"
            and counted(scope["method"], scope["path"])
        ):
            principal = scope.get("state", {}).get("principal")
            try:
                await self.guard.admit_request(principal)
            except PilothouseError as error:
                await error_response(error)(scope, receive, send)
                return
        await self.app(scope, receive, send)
