"""``pilothouse contracts``: classify contract changes, generate bindings and fixtures.

``diff OLD NEW`` exits 0 when every change is compatible (or there is none), 1 when some
change breaks the tools' callers, and 2 when OLD or NEW cannot be read (or the command is
misused). ``--allow-breaking REASON`` turns the 1 into a 0 for a deliberate break; the
report still lists every breaking change, and the JSON report records the reason.

``codegen --lang python|csharp OUT`` writes the bindings of every tool of a bundle and
``OUT/fixtures/<tool>.json`` (valid and invalid examples) beside them.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from pilothouse.control.contracts import ContractLoadError, diff_contracts, load_contracts
from pilothouse.control.tool_contract import ToolContract

contracts_app = typer.Typer(
    name="contracts",
    help="Schema-first tool contracts: classify changes, generate bindings and fixtures.",
    no_args_is_help=True,
    add_completion=False,
)

EXIT_BREAKING = 1
EXIT_USAGE = 2


class ReportFormat(StrEnum):
    """How ``diff`` prints its report."""

    text = "text"
    json = "json"


class Language(StrEnum):
    """Binding languages ``codegen`` emits."""

    python = "python"
    csharp = "csharp"


def _load_or_exit(source: Path) -> dict[str, ToolContract]:
    """The contracts at ``source``, or exit 2 listing why they cannot be read."""
    try:
        return load_contracts(source)
    except ContractLoadError as exc:
        typer.echo(f"error: cannot read contracts from {source}:", err=True)
        for problem in exc.problems:
            typer.echo(f"  {problem}", err=True)
        raise typer.Exit(EXIT_USAGE) from exc


@contracts_app.command()
def diff(
    old: Annotated[Path, typer.Argument(help="Bundle directory or contract file callers use.")],
    new: Annotated[Path, typer.Argument(help="Bundle directory or contract file to compare.")],
    report_format: Annotated[
        ReportFormat, typer.Option("--format", help="text (for people) or json (for CI).")
    ] = ReportFormat.text,
    allow_breaking: Annotated[
        str | None,
        typer.Option(help="Exit 0 despite breaking changes; the reason is recorded."),
    ] = None,
) -> None:
    """Classify every change from OLD to NEW as breaking, compatible or info."""
    if allow_breaking is not None and not allow_breaking.strip():
        typer.echo("error: --allow-breaking needs a reason", err=True)
        raise typer.Exit(EXIT_USAGE)
    old_tools = _load_or_exit(old)
    new_tools = _load_or_exit(new)
    report = diff_contracts(old_tools, new_tools)
    if report_format is ReportFormat.json:
        typer.echo(report.to_json(allowed_breaking=allow_breaking))
    else:
        typer.echo(report.to_text())
        if report.breaking and allow_breaking is not None:
            typer.echo(f"Breaking changes allowed: {allow_breaking}")
    if report.breaking and allow_breaking is None:
        raise typer.Exit(EXIT_BREAKING)


@contracts_app.command()
def codegen(
    out: Annotated[Path, typer.Argument(help="Directory to write into (created if missing).")],
    lang: Annotated[Language, typer.Option(help="python (Pydantic v2) or csharp (records).")],
    bundle: Annotated[
        Path, typer.Option(envvar="PILOTHOUSE_BUNDLE", help="Bundle whose tools to generate.")
    ] = Path("."),
    namespace: Annotated[
        str, typer.Option(help="C# namespace of the generated types.")
    ] = "Pilothouse.Contracts",
) -> None:
    """Generate bindings for every tool of a bundle, plus OUT/fixtures/<tool>.json."""
    from pilothouse.control.contracts.fixtures import write_fixtures

    tools = _load_or_exit(bundle)
    if lang is Language.python:
        from pilothouse.control.contracts.codegen_python import write_python_package

        written = write_python_package(tools, out)
    else:
        from pilothouse.control.contracts.codegen_csharp import write_csharp

        try:
            written = write_csharp(tools, out, namespace)
        except ValueError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(EXIT_USAGE) from exc
    written += write_fixtures(tools, out / "fixtures")
    typer.echo(f"Wrote {len(written)} files for {len(tools)} tool(s) to {out}")
