"""Tenant budgets over HTTP: ``PUT/GET /admin/v1/tenants/{tenant}/limits``.

Needs the ``admin`` role (:mod:`pilothouse.api.auth`). The bootstrap key manages every
tenant; an admin key of a tenant manages its own (another tenant's is a 403, as with keys).
``PUT`` replaces the tenant's limits (``null`` or absent: unlimited in that dimension); the
process defaults (``PILOTHOUSE_DEFAULT_TENANT_LIMITS``) apply only to tenants that were
never given limits of their own. ``GET`` also shows what the current windows hold.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pilothouse.api.http import context, json_body, json_response, services
from pilothouse.control.budgets import BudgetLimits
from pilothouse.control.keys import KeyService
from pilothouse.errors import InvalidRequest, ServiceUnavailable
from pilothouse.runtime.budgets.guard import BudgetGuard
from pilothouse.runtime.budgets.ledger import DAY, MINUTE, NANO_PER_USD, Payer
from pilothouse.storage.budgets import TenantLimits


def _guard_and_tenant(request: Request) -> tuple[BudgetGuard, str, str]:
    guard = services(request).budgets
    principal = context(request).principal
    if guard is None or principal is None:
        raise ServiceUnavailable("Budgets are not available on this server.")
    tenant: str = request.path_params["tenant"]
    if not tenant or len(tenant) > 64:
        raise InvalidRequest("Invalid tenant: 1 to 64 characters.", param="tenant")
    KeyService.tenant_for(principal, tenant)  # a tenant admin: its own tenant only
    return guard, tenant, principal.key_id


async def put_limits(request: Request) -> Response:
    """PUT ``{rpm?, tpm?, usd_per_day?}``: the tenant's limits from now on."""
    guard, tenant, by = _guard_and_tenant(request)
    limits = BudgetLimits.parse(await json_body(request), "limits")
    await guard.set_tenant_limits(TenantLimits(tenant, limits, int(time.time()), by))
    return json_response(await _view(guard, tenant))


async def get_limits(request: Request) -> Response:
    """GET: the limits in force, where they come from, and the current usage."""
    guard, tenant, _ = _guard_and_tenant(request)
    return json_response(await _view(guard, tenant))


async def _view(guard: BudgetGuard, tenant: str) -> dict[str, Any]:
    record = await guard.store.tenant_limits(tenant)
    limits = record.limits if record is not None else guard.defaults
    payer = Payer("tenant", tenant, limits)
    now = guard.ledger.clock()
    minute, day = int(now // MINUTE) * MINUTE, int(now // DAY) * DAY
    counters = [(payer.scope("rpm"), minute), (payer.scope("tpm"), minute)]
    counters.append((payer.scope("usd"), day))
    used = await guard.store.used(counters)
    return {
        "object": "tenant.limits",
        "tenant": tenant,
        **limits.to_json(),
        "source": "tenant" if record is not None else "defaults",
        "updated_at": record.updated_at if record is not None else None,
        "updated_by": record.updated_by if record is not None else None,
        "usage": {
            "requests_this_minute": used.get(counters[0], 0),
            "tokens_this_minute": used.get(counters[1], 0),
            "usd_today": used.get(counters[2], 0) / NANO_PER_USD,
        },
    }


routes = [
    Route("/admin/v1/tenants/{tenant}/limits", put_limits, methods=["PUT"]),
    Route("/admin/v1/tenants/{tenant}/limits", get_limits, methods=["GET"]),
]
