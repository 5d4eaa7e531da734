"""Paired A/B of Pilothouse variants on the agent-loop journey (concurrency 1 by default).

A change worth a few percent of an agent run is lost in the drift of a shared machine
between two benchmark runs. This script measures variants side by side instead: every
variant is its own ``pilothouse serve`` (two per variant, by convention, so that the
spread between identical servers is visible) on the system-under-test core, against the
harness of ``agent_loop.py`` (fake upstream, tool service, client) on the other core.
Blocks of runs go to each server in turn, in alternating order, so that drift hits all
alike. Own time is computed as in ``agent_loop.py``; CPU per run comes from each server's
``/proc/<pid>/task/*/schedstat`` (nanoseconds, not clock ticks).

A variant is ``NAME=SETTINGS``, where SETTINGS are ``VAR=value`` pairs separated by ``;``
and set in that server's environment. ``PYTHONPATH=<tree>/src`` runs another source tree
(a ``git worktree`` of an earlier commit, say); ``PILOTHOUSE_*`` variables change settings::

    git worktree add /tmp/base <commit>
    python bench/agent_ab.py "base=PYTHONPATH=/tmp/base/src" "new=" \\
        "base2=PYTHONPATH=/tmp/base/src" "new2="
    python bench/agent_ab.py "plain=" "traced=PILOTHOUSE_TRACE_EXPORTER=jsonl"

``--postgres [URL]`` gives each server a fresh PostgreSQL database instead of a SQLite file.
``--sdk`` adds the OpenAI Agents SDK (``agent_loop.py``'s runner, in its own virtualenv) to
the alternating blocks, a fresh runner process per block after its own warm-up, and prints
each variant's own p50 as a share of the SDK's: the issue-3 ratio, paired block by block
rather than cell after cell, so that the host's drift between cells does not enter it.

It prints, per delay setting and variant, own p50 and p95, the median of the blocks' CPU
per run, and own p50 relative to the first variant. Nothing is written.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
from pathlib import Path

from agent_loop import (
    HARNESS_CORE,
    CellRun,
    Harness,
    bench_client,
    drive_pilothouse,
    drive_sdk,
    ensure_sdk_venv,
    harness,
    parse_delays,
    pilothouse_server,
    postgres_database,
    union_length,
)

from pilothouse.runtime.http import HttpClient

SDK = "agents-sdk"
"""The name under which ``--sdk`` measures the OpenAI Agents SDK."""


def sched_ns(pid: int) -> int:
    """CPU time of every thread of ``pid``, in nanoseconds."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/schedstat") as stat:
            total += int(stat.read().split()[0])
    return total


def variant(spec: str) -> tuple[str, dict[str, str]]:
    """``NAME=VAR=value;VAR=value`` as a name and its environment."""
    name, _, settings = spec.partition("=")
    env = dict(pair.split("=", 1) for pair in settings.split(";") if pair)
    return name, env


async def one_block(
    h: Harness,
    client: HttpClient,
    sdk_python: Path | None,
    args: argparse.Namespace,
    system: tuple[str, str, int],
) -> tuple[CellRun, float]:
    """One block's timed runs of one system (a variant's server, or the SDK), and its CPU
    seconds per run."""
    name, url, pid = system
    if name == SDK:
        assert sdk_python is not None
        h.recorder.clear()
        cell = await drive_sdk(
            sdk_python, h.upstream.url, h.tools_url, args.concurrency, args.warmup, args.block
        )
        return cell, cell.cpu_s / len(cell.runs)
    await drive_pilothouse(client, url, pid, args.concurrency, 3, 1)
    h.recorder.clear()
    before = sched_ns(pid)
    cell = await drive_pilothouse(client, url, pid, args.concurrency, 0, args.block)
    return cell, (sched_ns(pid) - before) / 1e9 / len(cell.runs)


async def compare(args: argparse.Namespace) -> None:
    """Start every variant's server, then measure them in alternating blocks."""
    sdk_python = ensure_sdk_venv() if args.sdk else None
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setaffinity(0, {HARNESS_CORE})
    async with harness() as h, contextlib.AsyncExitStack() as stack:
        servers: list[tuple[str, str, int]] = []
        for name, env in map(variant, args.variant):
            workdir = Path(tempfile.mkdtemp(prefix=f"pilothouse-ab-{name}-"))
            store = f"sqlite:///{workdir}/bench.db"
            if args.postgres:
                store = await stack.enter_async_context(
                    postgres_database(args.postgres, suffix=name)
                )
            server = pilothouse_server(store, h.upstream.url, h.tools_url, workdir, env)
            url, pid = await stack.enter_async_context(server)
            servers.append((name, url, pid))
        if sdk_python is not None:
            servers.append((SDK, "", 0))
        client = await stack.enter_async_context(bench_client())
        for model_ms, tool_ms in args.delays:
            h.set_latency(model_ms, tool_ms)
            owns: dict[str, list[float]] = {name: [] for name, _, _ in servers}
            cpus: dict[str, list[float]] = {name: [] for name, _, _ in servers}
            for name, url, pid in servers:
                if name != SDK:
                    await drive_pilothouse(client, url, pid, args.concurrency, args.warmup, 1)

            for block in range(args.blocks):
                for name, url, pid in servers if block % 2 == 0 else servers[::-1]:
                    cell, cpu = await one_block(h, client, sdk_python, args, (name, url, pid))
                    cpus[name].append(cpu)
                    for run in cell.runs:
                        spans = h.recorder.spans[run["key"]]
                        external = union_length([(s, e) for _, s, e in spans])
                        owns[name].append(run["end"] - run["start"] - external)
            print(f"delays {model_ms:g}/{tool_ms:g} ms, concurrency {args.concurrency}:")
            p50s = {name: sorted(owns[name])[len(owns[name]) // 2] for name, _, _ in servers}
            first = p50s[servers[0][0]]
            for name, _, _ in servers:
                ordered = sorted(owns[name])
                p50 = p50s[name]
                p95 = ordered[int(len(ordered) * 0.95)]
                share = f"  {p50 / p50s[SDK]:5.3f} of the SDK's" if SDK in p50s else ""
                print(
                    f"  {name:<12} own p50 {p50 * 1e3:6.3f} p95 {p95 * 1e3:6.3f} ms"
                    f"  cpu/run {statistics.median(cpus[name]) * 1e3:6.3f} ms"
                    f"  ({p50 / first:5.3f}){share}",
                    flush=True,
                )


def main() -> None:
    """Parse the options and compare."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variant", nargs="+", help="NAME=VAR=value;VAR=value")
    parser.add_argument("--delays", type=parse_delays, default=parse_delays("0/0,10/5"))
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument(
        "--postgres",
        nargs="?",
        const="postgresql://postgres@127.0.0.1:5432/postgres",
        default=None,
        help="give each server a fresh PostgreSQL database instead of a SQLite file",
    )
    parser.add_argument("--blocks", type=int, default=10, help="blocks per server")
    parser.add_argument("--block", type=int, default=50, help="timed runs per block")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument(
        "--sdk",
        action="store_true",
        help="also measure the OpenAI Agents SDK in the same alternating blocks",
    )
    args = parser.parse_args()
    import uvloop

    uvloop.run(compare(args))


if __name__ == "__main__":
    main()
