"""The data key and the sealing of approval arguments (storage/sealed.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from pilothouse.errors import ServiceUnavailable
from pilothouse.storage.approvals import StoredApproval
from pilothouse.storage.sealed import SealedApprovalStore, load_data_key


class MemoryApprovals:
    """Just enough of an approval store to see what reaches it."""

    def __init__(self) -> None:
        self.rows: dict[str, StoredApproval] = {}

    async def create_approval(self, approval: StoredApproval) -> None:
        self.rows[approval.id] = approval

    async def get_approval(self, tenant: str, approval_id: str) -> StoredApproval | None:
        return self.rows.get(approval_id)

    async def list_approvals(self, tenant: str, status: str | None) -> list[StoredApproval]:
        return list(self.rows.values())


def _approval(arguments: str) -> StoredApproval:
    return StoredApproval(
        id="mcpr_1", tenant="t", run_id="resp_1", agent="a", server_label="a", tool="refund",
        arguments=arguments, arguments_digest="d", release_id="", requested_by="key_1",
        four_eyes=False, status="pending", created_at=0, expires_at=10, policies="[]",
    )  # fmt: skip


def test_a_key_file_is_made_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "data.key"
    first = load_data_key(None, path)
    again = load_data_key(None, path)
    token = first.encrypt(b"x")
    assert again.decrypt(token) == b"x"
    assert path.stat().st_mode & 0o777 == 0o600


def test_an_explicit_key_wins_over_the_file(tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()
    sealed = load_data_key(key, tmp_path / "unused.key")
    assert Fernet(key.encode()).decrypt(sealed.encrypt(b"y")) == b"y"
    assert not (tmp_path / "unused.key").exists()


def test_arguments_are_sealed_on_the_way_in_and_opened_on_the_way_out() -> None:
    inner = MemoryApprovals()
    store = SealedApprovalStore(inner, Fernet(Fernet.generate_key()))  # type: ignore[arg-type]
    asyncio.run(store.create_approval(_approval('{"card":"4111 1111 1111 1111"}')))
    assert inner.rows["mcpr_1"].arguments.startswith("fernet:")
    assert "4111" not in inner.rows["mcpr_1"].arguments
    opened = asyncio.run(store.get_approval("t", "mcpr_1"))
    assert opened is not None and opened.arguments == '{"card":"4111 1111 1111 1111"}'
    listed = asyncio.run(store.list_approvals("t", None))
    assert [a.arguments for a in listed] == [opened.arguments]


def test_another_processes_key_is_a_clear_error() -> None:
    inner = MemoryApprovals()
    writer = SealedApprovalStore(inner, Fernet(Fernet.generate_key()))  # type: ignore[arg-type]
    reader = SealedApprovalStore(inner, Fernet(Fernet.generate_key()))  # type: ignore[arg-type]
    asyncio.run(writer.create_approval(_approval("{}")))
    with pytest.raises(ServiceUnavailable) as caught:
        asyncio.run(reader.get_approval("t", "mcpr_1"))
    assert caught.value.code == "data_key_mismatch"
