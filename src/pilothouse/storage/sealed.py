"""Approvals whose arguments are sealed at rest.

An approval must run exactly the arguments that were approved, so it cannot keep them
redacted like everything else the store holds; instead its ``arguments`` column holds them
encrypted (Fernet: AES-128-CBC with HMAC-SHA-256, from ``cryptography``) under the process's
data key. Every other column passes through; reads give the clear arguments back to the
approval service, the admin API (whose approver must see them) and the continuation.

The key is ``PILOTHOUSE_DATA_KEY`` (a Fernet key; every process sharing a store needs the
same one) or, for a single development process, a key file made on first use
(``PILOTHOUSE_DATA_KEY_FILE``, default ``.pilothouse/data.key``, mode 0600).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from pilothouse.errors import ServiceUnavailable
from pilothouse.storage.approvals import ApprovalStore, StoredApproval

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

SEALED = "fernet:"


def load_data_key(key: str | None, key_file: Path) -> Fernet:
    """The data key from ``key``, else from ``key_file`` (made when missing).

    ``cryptography`` is imported here, on the first approval, not at start-up: it weighs
    about 7 MiB of resident memory that a process without approvals never needs.
    """
    from cryptography.fernet import Fernet

    if key:
        return Fernet(key.encode())
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            return Fernet(key_file.read_bytes().strip())
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(Fernet.generate_key())
    return Fernet(key_file.read_bytes().strip())


class SealedApprovalStore:
    """An :class:`~pilothouse.storage.approvals.ApprovalStore` that encrypts arguments.

    ``key`` is the Fernet key, or what loads it: then it is loaded on the first approval,
    so a process that never sees one neither reads nor makes a key file at start-up.
    """

    def __init__(self, inner: ApprovalStore, key: Fernet | Callable[[], Fernet]) -> None:
        self.inner = inner
        self._key = key

    @property
    def fernet(self) -> Fernet:
        """The data key (loaded on first use)."""
        if callable(self._key):
            self._key = self._key()
        return self._key

    async def create_approval(self, approval: StoredApproval) -> None:
        """Insert with the arguments sealed."""
        sealed = SEALED + self.fernet.encrypt(approval.arguments.encode()).decode()
        await self.inner.create_approval(replace(approval, arguments=sealed))

    async def get_approval(self, tenant: str, approval_id: str) -> StoredApproval | None:
        """One approval, arguments in clear."""
        found = await self.inner.get_approval(tenant, approval_id)
        return self._open(found) if found is not None else None

    async def list_approvals(self, tenant: str, status: str | None) -> list[StoredApproval]:
        """Approvals of ``tenant``, arguments in clear."""
        return [self._open(a) for a in await self.inner.list_approvals(tenant, status)]

    async def count_pending(self, now: int) -> int:
        """Passed through."""
        return await self.inner.count_pending(now)

    async def decide_approval(
        self, tenant: str, approval_id: str, status: str, by: str, reason: str, now: int
    ) -> bool:
        """Passed through."""
        return await self.inner.decide_approval(tenant, approval_id, status, by, reason, now)

    async def consume_approval(self, tenant: str, approval_id: str, run_id: str, now: int) -> bool:
        """Passed through."""
        return await self.inner.consume_approval(tenant, approval_id, run_id, now)

    def _open(self, approval: StoredApproval) -> StoredApproval:
        if not approval.arguments.startswith(SEALED):
            return approval  # written before sealing existed
        from cryptography.fernet import InvalidToken

        try:
            clear = self.fernet.decrypt(approval.arguments[len(SEALED) :].encode()).decode()
        except InvalidToken:
            raise ServiceUnavailable(
                f"Approval '{approval.id}' was sealed with another data key: every process "
                "sharing this store needs the same PILOTHOUSE_DATA_KEY.",
                code="data_key_mismatch",
            ) from None
        return replace(approval, arguments=clear)
