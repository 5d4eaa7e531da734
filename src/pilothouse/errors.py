"""The one exception tree of Pilothouse.

Every error knows the HTTP status and the wire ``type``/``code`` it maps to, so the API
edge renders any of them as ``{"error": {"message", "type", "param", "code"}}`` without
a lookup table. Signals that steer the agent loop (approval needed, limit reached) are
not errors and do not live here.

::

    PilothouseError                      500 server_error
    ├── InvalidRequest                   400 invalid_request_error (carries ``param``)
    ├── AuthenticationFailed             401 authentication_error
    ├── PermissionDenied                 403 permission_error
    ├── NotFound                         404 invalid_request_error / not_found
    ├── Conflict                         409 conflict (e.g. idempotent request in flight)
    ├── UnprocessableEntity              422 idempotency_key_reused
    ├── RateLimited                      429 rate_limit_exceeded (carries ``retry_after``)
    │   └── BudgetExceeded               429 rate_limit_requests|_tokens, budget_exceeded_usd
    ├── ServiceUnavailable               503 service_unavailable (carries ``retry_after``)
    └── UpstreamError                    status of the upstream (502 when it sent none)
"""

from __future__ import annotations

from typing import Any


class PilothouseError(Exception):
    """Root of every error Pilothouse raises on purpose.

    Attributes:
        message: Human-readable text shown to the client.
        param: The request parameter at fault, when there is one.
        code: A stable machine-readable code.
        retry_after: Seconds the client should wait before retrying, when known.
    """

    status: int = 500
    type: str = "server_error"
    default_code: str | None = "server_error"

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code if code is not None else self.default_code
        self.retry_after = retry_after

    def to_wire(self) -> dict[str, Any]:
        """The error envelope body sent to clients."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


class InvalidRequest(PilothouseError):
    """The request is malformed or asks for something that cannot be done."""

    status = 400
    type = "invalid_request_error"
    default_code = "invalid_request"


class AuthenticationFailed(PilothouseError):
    """No valid credentials were presented."""

    status = 401
    type = "authentication_error"
    default_code = "invalid_api_key"


class PermissionDenied(PilothouseError):
    """The caller is known but may not do this."""

    status = 403
    type = "permission_error"
    default_code = "permission_denied"


class NotFound(PilothouseError):
    """An id that does not exist, or that the caller may not see."""

    status = 404
    type = "invalid_request_error"
    default_code = "not_found"


class Conflict(PilothouseError):
    """The request conflicts with the current state (for example still in flight)."""

    status = 409
    type = "invalid_request_error"
    default_code = "conflict"


class UnprocessableEntity(PilothouseError):
    """The request is well formed but contradicts an earlier one (idempotency key reuse)."""

    status = 422
    type = "invalid_request_error"
    default_code = "idempotency_key_reused"


class RateLimited(PilothouseError):
    """Too many requests; ``retry_after`` says when to come back."""

    status = 429
    type = "rate_limit_error"
    default_code = "rate_limit_exceeded"


class BudgetExceeded(RateLimited):
    """A key's or tenant's budget or rate limit is spent (:mod:`pilothouse.runtime.budgets`).

    Before a response starts it is a 429; an agent run already underway ends
    ``incomplete`` instead, with the ``code`` as the reason.
    """


class ServiceUnavailable(PilothouseError):
    """Pilothouse or a dependency is temporarily unable to serve."""

    status = 503
    type = "server_error"
    default_code = "service_unavailable"


class UpstreamError(PilothouseError):
    """A model provider answered with an error or could not be reached.

    The status mirrors the upstream's when it is a client-meaningful one (400, 401, 403,
    404, 409, 422, 429, 5xx); connection failures become 502.
    """

    type = "server_error"
    default_code = "upstream_error"

    def __init__(
        self,
        message: str,
        *,
        status: int = 502,
        type: str | None = None,
        param: str | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, param=param, code=code, retry_after=retry_after)
        self.status = status
        if type is not None:
            self.type = type
