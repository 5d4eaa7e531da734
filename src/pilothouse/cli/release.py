"""``pilothouse release …``, ``pilothouse env …`` and ``pilothouse bundle validate``."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from pilothouse.cli.common import actor, emit, with_control
from pilothouse.control.bundle import BundleError, load_bundle
from pilothouse.control.environments import Environments, GateFailed, Move
from pilothouse.control.positions import line_of
from pilothouse.control.release_diff import diff_releases, render
from pilothouse.control.releases import Releases

release_app = typer.Typer(
    help="Publish, inspect, promote and roll back releases.", no_args_is_help=True
)
env_app = typer.Typer(help="Environments and where they point.", no_args_is_help=True)
bundle_app = typer.Typer(help="Work with bundle directories.", no_args_is_help=True)

Store = Annotated[
    str | None, typer.Option("--store", help="Store URL (default: PILOTHOUSE_STORE).")
]
By = Annotated[str | None, typer.Option("--by", help="Who acts (default: your user name).")]
Reason = Annotated[str, typer.Option("--reason", help="Why, for the history.")]


@bundle_app.command("validate")
def validate(path: Annotated[Path, typer.Argument(help="Bundle directory.")]) -> None:
    """Check a bundle; print every problem with file, line, pointer and hint."""
    try:
        bundle = load_bundle(path)
    except BundleError as exc:
        for problem in exc.problems:
            line = None
            source = path / problem.file
            if source.is_file():
                line = line_of(source.read_text(), problem.pointer)
            where = f"{problem.file}:{line}" if line else problem.file
            pointer = f" {problem.pointer}" if problem.pointer else ""
            hint = f" (hint: {problem.hint})" if problem.hint else ""
            typer.echo(f"{where}:{pointer} {problem.message}{hint}")
        typer.echo(f"{len(exc.problems)} problem(s)", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"ok: {len(bundle.agents)} agent(s), {len(bundle.tools)} tool(s), "
        f"{len(bundle.prompts)} prompt(s)"
    )


@release_app.command("publish")
def publish(
    path: Annotated[Path, typer.Argument(help="Bundle directory.")],
    message: Annotated[str, typer.Option("-m", "--message", help="What changed and why.")],
    store: Store = None,
    by: By = None,
) -> None:
    """Store the bundle as an immutable release (the same content: the same release)."""

    async def work(releases: Releases, _: Environments) -> None:
        release, created = await releases.publish(path, message, actor(by))
        typer.echo(f"{'published' if created else 'unchanged, already published as'} {release.id}")

    with_control(store, work)


@release_app.command("list")
def list_releases(store: Store = None) -> None:
    """The newest releases."""

    async def work(releases: Releases, _: Environments) -> None:
        emit([r.summary() for r in await releases.list()])

    with_control(store, work)


@release_app.command("show")
def show(
    reference: Annotated[str, typer.Argument(help="Release id or prefix.")], store: Store = None
) -> None:
    """A release: its metadata, resolved configuration and file names."""

    async def work(releases: Releases, _: Environments) -> None:
        release = await releases.get(reference)
        emit({**release.summary(), "files": sorted(release.files), "resolved": release.resolved})

    with_control(store, work)


@release_app.command("diff")
def diff(
    old: Annotated[str, typer.Argument(help="From release.")],
    new: Annotated[str, typer.Argument(help="To release.")],
    store: Store = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """What changed between two releases, semantically."""

    async def work(releases: Releases, _: Environments) -> None:
        before, after = await releases.get(old), await releases.get(new)
        result = diff_releases(before, after, releases.bundle(before), releases.bundle(after))
        if as_json:
            emit(result)
        else:
            typer.echo(render(result))

    with_control(store, work)


@release_app.command("promote")
def promote(
    reference: Annotated[str, typer.Argument(help="Release id or prefix.")],
    to: Annotated[str, typer.Option("--to", help="Environment.")],
    canary: Annotated[int | None, typer.Option("--canary", help="Percent of traffic.")] = None,
    allow_breaking: Annotated[
        str | None,
        typer.Option(
            "--allow-breaking", help="Promote despite breaking contract changes, for this reason."
        ),
    ] = None,
    reason: Reason = "",
    store: Store = None,
    by: By = None,
) -> None:
    """Run the gates and point the environment at the release (or start a canary)."""

    async def work(_: Releases, environments: Environments) -> None:
        try:
            move = await environments.promote(
                reference,
                to,
                actor=actor(by),
                reason=reason,
                canary_percent=canary,
                allow_breaking=allow_breaking,
            )
        except GateFailed as exc:
            for result in exc.results:
                _gate_line(result.gate, result.passed, result.notices)
            raise
        _report(move)

    with_control(store, work)


@release_app.command("rollback")
def rollback(
    env: Annotated[str, typer.Argument(help="Environment.")],
    reason: Reason = "",
    store: Store = None,
    by: By = None,
) -> None:
    """End the environment's canary, or return it to the release before the last promotion."""

    async def work(_: Releases, environments: Environments) -> None:
        _report(await environments.rollback(env, actor=actor(by), reason=reason))

    with_control(store, work)


@env_app.command("list")
def list_environments(store: Store = None) -> None:
    """Every environment and where it points."""

    async def work(_: Releases, environments: Environments) -> None:
        emit([asdict(s) for s in await environments.states()])

    with_control(store, work)


@env_app.command("history")
def history(env: Annotated[str, typer.Argument(help="Environment.")], store: Store = None) -> None:
    """Every move of an environment: who, when, why, and the gates."""

    async def work(_: Releases, environments: Environments) -> None:
        emit([asdict(e) for e in await environments.history(env)])

    with_control(store, work)


def _gate_line(gate: str, passed: bool, notices: list[str]) -> None:
    mark = "pass" if passed else "FAIL"
    typer.echo(f"  gate {gate}: {mark}" + (f" - {'; '.join(notices)}" if notices else ""))


def _report(move: Move) -> None:
    for result in move.gates:
        _gate_line(result.gate, result.passed, result.notices)
    state = move.state
    canary = (
        f", canary {state.canary_release_id} at {state.canary_percent}%"
        if state.canary_release_id
        else ""
    )
    typer.echo(
        f"{state.name} -> {state.release_id}{canary} ({move.event.action}, version {state.version})"
    )
