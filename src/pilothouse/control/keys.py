"""API keys: minted once, stored as a digest, checked on every request.

A key looks like ``phk_3f9a2c1d_<43 url-safe characters>``: the fixed ``phk_`` marker
makes leaked keys easy to spot (the redactor's credential detector knows the shape), the
eight hex characters name the key in listings (its ``prefix``), and the rest is 256 bits
from :mod:`secrets`. The store keeps the HMAC-SHA-256 of the whole key (keyed by
``PILOTHOUSE_KEY_PEPPER`` when one is set, plain SHA-256 otherwise — the keys are random,
so no slow hash is needed) and looks keys up by that digest; the key itself is shown once,
to whoever created it, and never written anywhere.

``PILOTHOUSE_ADMIN_KEY`` bootstraps a system: that key is never stored, holds every role
in the admin tenant, and may manage the keys of every tenant.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable

import orjson

from pilothouse.control.budgets import BudgetLimits
from pilothouse.control.principal import ROLES, Principal, Scopes
from pilothouse.errors import InvalidRequest, NotFound, PermissionDenied, ServiceUnavailable
from pilothouse.storage.base import KeyStore, StoredKey

KEY_MARKER = "phk_"
BOOTSTRAP_KEY_ID = "key_bootstrap"
_PREFIX_LENGTH = len(KEY_MARKER) + 8
_TENANT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def mint() -> str:
    """A new random key."""
    return f"{KEY_MARKER}{secrets.token_hex(4)}_{secrets.token_urlsafe(32)}"


def digest(key: str, pepper: bytes | None) -> str:
    """The stored form of ``key``."""
    if pepper:
        return hmac.new(pepper, key.encode(), hashlib.sha256).hexdigest()
    return hashlib.sha256(key.encode()).hexdigest()


def principal_of(record: StoredKey) -> Principal:
    """The principal a stored key authenticates as."""
    return Principal(
        key_id=record.id,
        tenant=record.tenant,
        roles=frozenset(orjson.loads(record.roles)),
        scopes=Scopes.from_json(orjson.loads(record.scopes)),
        limits=BudgetLimits.parse(orjson.loads(record.limits)) if record.limits else None,
    )


def public_view(record: StoredKey) -> dict[str, object]:
    """A key as listings show it: everything but the digest."""
    return {
        "object": "api_key",
        "id": record.id,
        "tenant": record.tenant,
        "name": record.name,
        "prefix": record.prefix,
        "roles": orjson.loads(record.roles),
        "scopes": orjson.loads(record.scopes),
        "created_at": record.created_at,
        "created_by": record.created_by,
        "revoked_at": record.revoked_at,
        "limits": orjson.loads(record.limits) if record.limits else None,
    }


class KeyService:
    """Creating, listing, revoking and checking keys.

    Args:
        store: Where digests live (None: a store without keys; only the bootstrap key
            authenticates).
        pepper: The HMAC key for digests (``PILOTHOUSE_KEY_PEPPER``), if any.
        admin_key: The bootstrap key (``PILOTHOUSE_ADMIN_KEY``), if any.
        admin_tenant: The tenant the bootstrap key acts in.
    """

    def __init__(
        self,
        store: KeyStore | None,
        pepper: str | None = None,
        admin_key: str | None = None,
        admin_tenant: str = "default",
    ) -> None:
        self.store = store
        self._pepper = pepper.encode() if pepper else None
        self._admin_digest = digest(admin_key, self._pepper) if admin_key else None
        self._bootstrap = Principal(
            BOOTSTRAP_KEY_ID, admin_tenant, frozenset(ROLES), Scopes(), system=True
        )

    async def authenticate(self, key: str) -> Principal | None:
        """The principal ``key`` belongs to; None when unknown or revoked.

        Every call reads the store, so a revocation holds from the next request on, in
        every process sharing the store.
        """
        found = digest(key, self._pepper)
        if self._admin_digest is not None and hmac.compare_digest(found, self._admin_digest):
            return self._bootstrap
        if not key.startswith(KEY_MARKER) or self.store is None:
            return None
        record = await self.store.key_by_digest(found)
        if record is None or record.revoked_at is not None:
            return None
        return principal_of(record)

    async def create(
        self,
        tenant: str,
        roles: Iterable[str],
        scopes: Scopes | None = None,
        name: str = "",
        created_by: str = "",
        limits: BudgetLimits | None = None,
    ) -> tuple[str, StoredKey]:
        """A new key: the key itself (to show once) and its stored record."""
        roles = sorted(set(roles))
        _check_tenant(tenant)
        if not roles:
            raise InvalidRequest("A key needs at least one role.", param="roles")
        unknown = [role for role in roles if role not in ROLES]
        if unknown:
            raise InvalidRequest(
                f"Unknown role {unknown[0]!r}; expected one of {', '.join(ROLES)}.",
                param="roles",
                code="invalid_value",
            )
        key = mint()
        record = StoredKey(
            id="key_" + secrets.token_hex(8),
            tenant=tenant,
            name=name,
            prefix=key[:_PREFIX_LENGTH],
            digest=digest(key, self._pepper),
            roles=orjson.dumps(roles).decode(),
            scopes=orjson.dumps((scopes or Scopes()).to_json()).decode(),
            created_at=int(time.time()),
            created_by=created_by,
            limits=None
            if limits is None or limits.empty
            else orjson.dumps(limits.to_json()).decode(),
        )
        await self._keys().create_key(record)
        return key, record

    async def list(self, tenant: str | None) -> list[StoredKey]:
        """Keys of ``tenant`` (all tenants when None)."""
        return await self._keys().list_keys(tenant)

    async def revoke(self, key_id: str, tenant: str | None) -> StoredKey:
        """Revoke ``key_id``; with ``tenant`` given, only a key of that tenant (else 404)."""
        record = await self._keys().get_key(key_id)
        if record is None or (tenant is not None and record.tenant != tenant):
            raise NotFound(f"No API key found with id '{key_id}'.", param="key_id")
        revoked = await self._keys().revoke_key(key_id, int(time.time()))
        assert revoked is not None  # it existed a moment ago and keys are never deleted
        return revoked

    def _keys(self) -> KeyStore:
        if self.store is None:
            raise ServiceUnavailable("This store does not hold API keys.", code="no_key_store")
        return self.store

    @staticmethod
    def tenant_for(principal: Principal, requested: str | None) -> str | None:
        """The tenant whose keys ``principal`` manages: only its own unless it is the
        bootstrap key (which may name any tenant, or none for all)."""
        if principal.system:
            return requested
        if requested is not None and requested != principal.tenant:
            raise PermissionDenied(
                "This key manages the keys of its own tenant only.", code="foreign_tenant"
            )
        return principal.tenant


def _check_tenant(tenant: str) -> None:
    if not tenant or len(tenant) > 64 or not set(tenant) <= _TENANT_CHARS:
        raise InvalidRequest(
            "Invalid 'tenant': 1 to 64 letters, digits, '-', '_' or '.'.",
            param="tenant",
            code="invalid_value",
        )
