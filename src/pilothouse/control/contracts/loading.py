"""Reading the contracts to compare or generate from: a bundle or a single contract file.

``contracts diff OLD NEW`` accepts either form on each side, so that CI can compare a
bundle with the one on the main branch, and a reviewer can compare two files. A bundle is
loaded with :func:`~pilothouse.control.bundle.load_bundle`, so the tools compared are
exactly the ones a release would publish (OpenAPI-imported operations included).
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from pilothouse.control.bundle import BundleError, load_bundle
from pilothouse.control.tool_contract import ToolContract
from pilothouse.errors import InvalidRequest


class ContractLoadError(InvalidRequest):
    """Contracts that cannot be read; ``problems`` lists each reason on its own line."""

    def __init__(self, source: Path, problems: list[str]) -> None:
        super().__init__(f"{source}: " + "; ".join(problems), code="invalid_contract")
        self.source = source
        self.problems = problems


def load_contracts(source: Path) -> dict[str, ToolContract]:
    """The tool contracts at ``source`` keyed by tool name.

    Args:
        source: A bundle directory (its ``tools/`` are read through ``load_bundle``) or
            one contract file (``tools/<name>.json``).

    Raises:
        ContractLoadError: When ``source`` is missing, is not valid JSON, or does not
            hold valid contracts; every problem found is listed.
    """
    if source.is_dir():
        try:
            return dict(load_bundle(source).tools)
        except BundleError as exc:
            raise ContractLoadError(source, [str(p) for p in exc.problems]) from exc
    if not source.is_file():
        raise ContractLoadError(source, ["no such bundle directory or contract file"])
    try:
        data = json.loads(source.read_text())
    except (OSError, ValueError) as exc:
        raise ContractLoadError(source, [f"cannot be parsed: {exc}"]) from exc
    try:
        contract = ToolContract.model_validate(data)
    except ValidationError as exc:
        problems = [
            "/" + "/".join(str(part) for part in error["loc"]) + f": {error['msg']}"
            for error in exc.errors(include_url=False)
        ]
        raise ContractLoadError(source, problems) from exc
    return {contract.name: contract}
