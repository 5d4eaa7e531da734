"""Authentication at ingress: every request but health checks presents an API key.

The key comes as ``Authorization: Bearer <key>`` (what every OpenAI SDK sends) or as
``api-key: <key>`` (what Azure OpenAI clients send). The middleware resolves it to a
:class:`~pilothouse.control.principal.Principal` through the key service (one store read
by digest, so revocations hold from the next request on), checks the role the path needs,
and hands the principal to the handler in ``scope["state"]``. Failures are answered here,
in the wire envelope: 401 ``invalid_api_key`` / ``missing_api_key``, 403 ``missing_role``.

What a path needs, first match wins:

=======================  ===========
``/admin/v1/keys``       ``admin``
``/admin/v1/tenants``    ``admin``
``/admin/v1/approvals``  ``approve``
``/admin/v1/``           ``operate``
``/metrics``             ``operate`` (public when ``metrics_public``)
``/v1/``                 ``invoke``
anything else            a valid key
=======================  ===========
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from pilothouse.api.errors import error_response
from pilothouse.control.keys import KeyService
from pilothouse.errors import AuthenticationFailed, PermissionDenied, PilothouseError

PUBLIC_PATHS = frozenset({"/healthz", "/readyz"})

ROLE_BY_PREFIX = (
    ("/admin/v1/keys", "admin"),
    ("/admin/v1/tenants", "admin"),
    ("/admin/v1/approvals", "approve"),
    ("/admin/v1/", "operate"),
    ("/metrics", "operate"),
    ("/v1/", "invoke"),
)


def required_role(path: str) -> str | None:
    """The role ``path`` needs (None: any valid key)."""
    for prefix, role in ROLE_BY_PREFIX:
        if path.startswith(prefix):
            return role
    return None


def presented_key(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The key in the request's headers, if any."""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
        elif name == b"api-key" and value.strip():
            return value.decode("latin-1").strip()
    return None


class AuthMiddleware:
    """Puts the caller's ``principal`` into ``scope["state"]`` or answers 401/403."""

    def __init__(self, app: ASGIApp, keys: KeyService | None, public: frozenset[str]) -> None:
        self.app = app
        self.keys = keys
        self.public = PUBLIC_PATHS | public

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.public:
            await self.app(scope, receive, send)
            return
        try:
            principal = await self._authenticate(scope)
        except PilothouseError as error:
            response = error_response(error)
            if error.status == 401:
                response.headers["www-authenticate"] = 'Bearer realm="pilothouse"'
            await response(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        state["principal"] = principal
        await self.app(scope, receive, send)

    async def _authenticate(self, scope: Scope) -> Any:
        key = presented_key(scope["headers"])
        if key is None:
            raise AuthenticationFailed(
                "No API key provided. Send it as 'Authorization: Bearer <key>'.",
                code="missing_api_key",
            )
        principal = await self.keys.authenticate(key) if self.keys is not None else None
        if principal is None:
            raise AuthenticationFailed(
                f"Incorrect API key provided: {_masked(key)}.", code="invalid_api_key"
            )
        role = required_role(scope["path"])
        if role is not None and not principal.has_role(role):
            raise PermissionDenied(
                f"This API key lacks the '{role}' role needed for {scope['path']}.",
                code="missing_role",
            )
        return principal


def _masked(key: str) -> str:
    """Enough of a wrong key to recognise it, never enough to use it (as OpenAI does)."""
    return key[:4] + "*" * 4 + key[-4:] if len(key) > 12 else "****"
