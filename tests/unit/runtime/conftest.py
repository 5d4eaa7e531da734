"""Fixtures shared by the runtime's unit tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pilothouse.storage.sql.store import SQLStore


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLStore]:
    """A started SQLite store in the test's directory."""
    sql = SQLStore(f"sqlite:///{tmp_path / 'runtime.db'}")
    await sql.start()
    yield sql
    await sql.close()
