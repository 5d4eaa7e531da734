"""Schema-first tool contracts: classify changes, generate bindings and fixtures.

The JSON Schema in ``tools/<name>.json`` is the source of truth. This package compares
two versions of it (:func:`classify`, :func:`diff_contracts`: a :class:`ContractReport`
of :class:`Change` items, each ``breaking``, ``compatible`` or ``info`` for the tool's
callers) and generates from it Pydantic models, C# records and contract-test fixtures
(:mod:`.codegen_python`, :mod:`.codegen_csharp`, :mod:`.fixtures`).

A promote gate calls::

    report = diff_contracts(running_release_tools, candidate_tools)
    if report.breaking and not allow_breaking_reason:
        refuse(report.to_json())
"""

from __future__ import annotations

from pilothouse.control.contracts.diff import classify, diff_contracts
from pilothouse.control.contracts.loading import ContractLoadError, load_contracts
from pilothouse.control.contracts.report import Change, ChangeClass, ContractReport

__all__ = [
    "Change",
    "ChangeClass",
    "ContractLoadError",
    "ContractReport",
    "classify",
    "diff_contracts",
    "load_contracts",
]
