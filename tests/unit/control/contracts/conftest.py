"""Bundles to generate from, and importing a generated Python package in a test."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from pilothouse.control.contracts import load_contracts
from pilothouse.control.contracts.codegen_python import write_python_package
from pilothouse.control.contracts.fixtures import write_fixtures
from pilothouse.control.tool_contract import ToolContract

ROOT = Path(__file__).parents[4]
BUNDLES = {
    "support_desk": ROOT / "examples" / "support-desk",
    "orders": ROOT / "tests" / "fixtures" / "bundles" / "contracts",
}


@pytest.fixture(params=sorted(BUNDLES))
def bundle_tools(request: pytest.FixtureRequest) -> dict[str, ToolContract]:
    """The tools of the example bundle and of the test bundle (nested, enums, $defs)."""
    return load_contracts(BUNDLES[request.param])


@pytest.fixture
def orders_tools() -> dict[str, ToolContract]:
    """The test bundle alone: nested objects, enums, arrays, $defs, recursion."""
    return load_contracts(BUNDLES["orders"])


@pytest.fixture
def generate_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[dict[str, ToolContract], str], ModuleType]]:
    """Write models and fixtures as package ``name`` under ``tmp_path`` and import it."""
    imported: list[str] = []

    def generate(tools: dict[str, ToolContract], name: str) -> ModuleType:
        out = tmp_path / name
        write_python_package(tools, out)
        write_fixtures(tools, out / "fixtures")
        monkeypatch.syspath_prepend(str(tmp_path))
        importlib.invalidate_caches()
        imported.append(name)
        return importlib.import_module(name)

    yield generate
    for module in [m for m in sys.modules if m.split(".")[0] in imported]:
        del sys.modules[module]
