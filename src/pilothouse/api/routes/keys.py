"""The key admin API: create (the key is in the answer, once), list, revoke.

Needs the ``admin`` role (:mod:`pilothouse.api.auth`). An admin key manages the keys of its
own tenant; the bootstrap key (``PILOTHOUSE_ADMIN_KEY``) those of any tenant.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pilothouse.api.http import context, json_body, json_response, services
from pilothouse.control.budgets import BudgetLimits
from pilothouse.control.keys import KeyService, public_view
from pilothouse.control.principal import Principal, Scopes
from pilothouse.errors import InvalidRequest, ServiceUnavailable

_SCOPE_DIMENSIONS = ("agents", "tools", "environments")


def _service(request: Request) -> tuple[KeyService, Principal]:
    keys = services(request).keys
    principal = context(request).principal
    if keys is None or principal is None:
        raise ServiceUnavailable("API keys are not available on this server.")
    return keys, principal


async def create_key(request: Request) -> Response:
    """POST /admin/v1/keys ``{tenant?, roles, scopes?, name?, limits?}`` → the key, shown
    once. ``limits``: ``{rpm?, tpm?, usd_per_day?}`` (``runtime/budgets``)."""
    keys, principal = _service(request)
    body = await json_body(request)
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object.", code="invalid_type")
    tenant = body.get("tenant", principal.tenant)
    if not isinstance(tenant, str):
        raise InvalidRequest("'tenant' must be a string.", param="tenant")
    owner = KeyService.tenant_for(principal, tenant)
    roles = body.get("roles")
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise InvalidRequest("'roles' must be a list of role names.", param="roles")
    name = body.get("name", "")
    if not isinstance(name, str) or len(name) > 256:
        raise InvalidRequest("'name' must be a string of at most 256 characters.", param="name")
    limits = BudgetLimits.parse(body.get("limits"))
    key, record = await keys.create(
        owner or tenant, roles, _scopes(body.get("scopes")), name, principal.key_id, limits
    )
    return json_response({**public_view(record), "key": key}, status=201)


async def list_keys(request: Request) -> Response:
    """GET /admin/v1/keys[?tenant=T]: the keys (never their digests)."""
    keys, principal = _service(request)
    tenant = KeyService.tenant_for(principal, request.query_params.get("tenant"))
    found = await keys.list(tenant)
    return json_response({"object": "list", "data": [public_view(k) for k in found]})


async def revoke_key(request: Request) -> Response:
    """POST /admin/v1/keys/{key_id}/revoke: effective from the next request on."""
    keys, principal = _service(request)
    tenant = None if principal.system else principal.tenant
    record = await keys.revoke(request.path_params["key_id"], tenant)
    return json_response(public_view(record))


def _scopes(raw: Any) -> Scopes:
    if raw is None:
        return Scopes()
    if not isinstance(raw, dict) or set(raw) - set(_SCOPE_DIMENSIONS):
        raise InvalidRequest(
            "'scopes' must be an object with 'agents', 'tools' and/or 'environments'.",
            param="scopes",
        )
    for dimension, values in raw.items():
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise InvalidRequest(
                f"'scopes.{dimension}' must be a list of names.", param=f"scopes.{dimension}"
            )
    return Scopes.from_json(raw)


routes = [
    Route("/admin/v1/keys", create_key, methods=["POST"]),
    Route("/admin/v1/keys", list_keys, methods=["GET"]),
    Route("/admin/v1/keys/{key_id}/revoke", revoke_key, methods=["POST"]),
]
