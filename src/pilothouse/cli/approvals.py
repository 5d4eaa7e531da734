"""``pilothouse approvals …``: list pending approvals, approve or deny one.

These work on the store directly (``--store`` or ``PILOTHOUSE_STORE``), as an approver on
the database host would, deciding as ``cli:<user>`` (a principal other than any API key,
so four-eyes holds). The same operations exist over HTTP under ``/admin/v1/approvals``,
which also resumes a paused background run at once; after a decision here, the client
(or ``POST /admin/v1/approvals/{id}/approve`` on a server) carries the run on.
"""

from __future__ import annotations

import getpass
from typing import Annotated, Any

import typer

from pilothouse.cli.common import emit, with_store
from pilothouse.control.principal import Principal
from pilothouse.runtime.approvals import ApprovalService, approval_json
from pilothouse.settings import Settings
from pilothouse.storage.sealed import SealedApprovalStore, load_data_key
from pilothouse.storage.sql.store import SQLStore

approvals_app = typer.Typer(
    help="List, approve and deny tool-call approvals.", no_args_is_help=True
)

Store = Annotated[
    str | None, typer.Option("--store", help="Store URL (default: PILOTHOUSE_STORE).")
]
Tenant = Annotated[str, typer.Option("--tenant", help="The tenant the approval belongs to.")]
Reason = Annotated[str, typer.Option("--reason", help="Why (kept in the audit trail).")]


def _service(store: SQLStore) -> ApprovalService:
    settings = Settings()
    secret = settings.data_key.get_secret_value() if settings.data_key else None
    sealed = SealedApprovalStore(
        store.approvals, lambda: load_data_key(secret, settings.data_key_file)
    )
    return ApprovalService(sealed, store.journal)


def _me(tenant: str) -> Principal:
    return Principal(f"cli:{getpass.getuser()}", tenant, frozenset({"approve"}))


@approvals_app.command("list")
def list_approvals(
    tenant: Tenant = "default",
    status: Annotated[
        str | None, typer.Option("--status", help="pending, approved, denied, used or expired.")
    ] = "pending",
    store: Store = None,
) -> None:
    """List a tenant's approvals (pending ones by default)."""

    async def work(sql: SQLStore) -> list[dict[str, Any]]:
        return [approval_json(a) for a in await _service(sql).list(tenant, status)]

    emit(with_store(store, work))


def _decide(approval_id: str, tenant: str, approve: bool, reason: str, store: str | None) -> None:
    async def work(sql: SQLStore) -> dict[str, Any]:
        decided = await _service(sql).decide(tenant, approval_id, approve, _me(tenant), reason)
        return approval_json(decided)

    emit(with_store(store, work))


@approvals_app.command("approve")
def approve(
    approval_id: Annotated[str, typer.Argument(help="The approval's id (mcpr_…).")],
    tenant: Tenant = "default",
    reason: Reason = "",
    store: Store = None,
) -> None:
    """Approve one pending call."""
    _decide(approval_id, tenant, True, reason, store)


@approvals_app.command("deny")
def deny(
    approval_id: Annotated[str, typer.Argument(help="The approval's id (mcpr_…).")],
    tenant: Tenant = "default",
    reason: Reason = "",
    store: Store = None,
) -> None:
    """Deny one pending call."""
    _decide(approval_id, tenant, False, reason, store)
