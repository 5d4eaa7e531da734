"""Where Pilothouse spends its own time in the agent-loop benchmark: a py-spy profile.

Starts the same harness as ``bench/agent_loop.py`` (fake upstream + tool service on core 0,
``pilothouse serve`` with the SQLite store on core 1), warms up, then records the server
with ``py-spy record`` (non-idle samples of every thread) while a bounded number of agent
runs go through it, and summarises the samples:

Only the thread holding the GIL is sampled (``--gil``): Python work. That misses what runs
with the GIL released, SQLite's own work above all. The store's writes run on the event
loop's thread (``storage/sql/loop_writer.py``), and SQLite releases the GIL while it executes
them, so these profiles understate the store: about 10% of the samples, against 27-34% of
the CPU by taking the writes out (``bench/RESULTS.md``, session 5). Sampling every thread
instead does not help: py-spy then counts the idle worker threads as busy.

* **inclusive**: share of samples whose stack passes through a function of ``src/pilothouse``
  (what a function and everything it calls cost);
* **self, by library frame**: share of samples by leaf frame, each attributed to the
  innermost ``pilothouse`` frame that called it (what to optimise, and from where).

py-spy goes into ``bench/.venvs/tools`` (its own virtualenv, git-ignored), never into the
project's dependencies. Writes ``bench/results/agent_profile.txt`` (collapsed stacks, for a
flame graph) and ``bench/results/agent_profile.md`` (the summary). Delays default to 0/0 ms
so that the server is busy with its own work only; concurrency defaults to 32.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from agent_loop import (
    BENCH,
    RESULTS,
    bench_client,
    drive_pilothouse,
    harness,
    parse_delays,
    pilothouse_server,
    pinned,
    stop_process,
    wait_quiet,
)

TOOLS_VENV = BENCH / ".venvs" / "tools"
PY_SPY = "py-spy==0.4.3"
HARNESS_CORE = 0


def ensure_py_spy() -> Path:
    """py-spy in its own virtualenv (installed on first use)."""
    exe = TOOLS_VENV / "bin" / "py-spy"
    if not exe.exists():
        base = getattr(sys, "_base_executable", sys.executable)
        subprocess.run([base, "-m", "venv", str(TOOLS_VENV)], check=True)
        subprocess.run(
            [str(TOOLS_VENV / "bin" / "python"), "-m", "pip", "install", "-q", PY_SPY],
            check=True,
            timeout=600,
        )
    return exe


def frame_name(frame: str) -> tuple[str, str]:
    """``"func (path/to/file.py)"`` → (``func``, ``path/to/file.py``)."""
    name, _, rest = frame.partition(" (")
    return name, rest.rstrip(")")


def short(path: str) -> str:
    """A file path shortened to its package-relative part."""
    for marker in ("/src/", "/site-packages/", "/lib/python3.11/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def _outside(frames: list[tuple[str, str]]) -> str:
    """A label for samples with no Pilothouse frame: the event loop's own C code (uvloop:
    I/O, callbacks, parsing) when only the loop's runner is on the stack, else the leaf."""
    if not frames:
        return "(no Python frame)"
    name, path = frames[-1]
    if name == "Runner.run":
        return "(event loop: uvloop C code, I/O and protocol callbacks)"
    return f"(outside Pilothouse) {name} ({short(path)})"


_OURS = [
    ("pilothouse/storage/", "store: journal and responses (SQLAlchemy, aiosqlite/asyncpg)"),
    ("pilothouse/runtime/http/", "outbound HTTP client (model and tool calls)"),
    ("pilothouse/runtime/providers/", "model calls: provider wrappers"),
    ("pilothouse/runtime/tools/", "tool calls: gateway chain"),
    ("pilothouse/observability/redaction/", "redaction (journal, stored response, run spec)"),
    ("pilothouse/control/policy/", "policy engine (Cedar, decision cache)"),
    ("pilothouse/observability/", "observability: metrics, tracing hooks"),
    ("pilothouse/api/", "HTTP API: routes and middleware"),
    ("pilothouse/", "agent runtime: executor, runner, responses, pricing, protocol"),
]
_LIBRARIES = [
    (("sqlalchemy/", "aiosqlite/", "asyncpg/", "greenlet"), _OURS[0][1]),
    (("uvicorn/", "starlette/"), "HTTP server: uvicorn and starlette (no Pilothouse frame)"),
    (("httptools/", "yarl/", "multidict/"), "HTTP parsing and URLs (no Pilothouse frame)"),
]


def component(frames: list[tuple[str, str]]) -> str:
    """The part of the server a sample belongs to: the innermost Pilothouse frame's module
    group, else the library on the stack (SQLAlchemy runs writes on greenlet stacks that
    py-spy shows without their Pilothouse caller), else the event loop."""
    for _, path in reversed(frames):
        if "pilothouse/" in path and "pilothouse/cli/" not in path:
            return next(label for prefix, label in _OURS if prefix in path)
    if not frames:
        return "no Python frame (C code holding the GIL)"
    # Below the event loop's runner: what the loop is running (the frames above it are
    # the CLI and uvicorn's start-up, on every main-thread stack).
    loop = [i for i, (name, _) in enumerate(frames) if name == "Runner.run"]
    running = frames[loop[-1] + 1 :] if loop else frames
    for prefixes, label in _LIBRARIES:
        if any(p in path for _, path in running for p in prefixes):
            return label
    if not running:
        return _outside(frames)
    return "other event-loop callbacks (asyncio futures and tasks, weakrefs)"


def summarise(collapsed: str, top: int) -> str:
    """Markdown tables of inclusive ``pilothouse`` functions and of leaf frames."""
    inclusive: Counter[str] = Counter()
    attributed: Counter[str] = Counter()
    components: Counter[str] = Counter()
    leaves: Counter[tuple[str, str]] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [frame_name(f) for f in stack.split(";") if " (" in f]
        ours = [
            f"{name} ({short(path)})"
            for name, path in frames
            if "pilothouse/" in path and "pilothouse/cli/" not in path
        ]
        for label in set(ours):
            inclusive[label] += count
        attributed[ours[-1] if ours else _outside(frames)] += count
        components[component(frames)] += count
        if frames:
            name, path = frames[-1]
            caller = ours[-1] if ours else "-"
            leaves[(f"{name} ({short(path)})", caller)] += count
    if not total:
        return "No samples.\n"
    lines = [
        f"{total} samples of the thread holding the GIL.",
        "",
        "## By component",
        "",
        "| % of samples | component |",
        "|---|---|",
    ]
    lines += [f"| {n / total * 100:.1f} | {label} |" for label, n in components.most_common()]
    lines += [
        "",
        "## Inclusive time in `src/pilothouse` functions",
        "",
        "| % of samples | function |",
        "|---|---|",
    ]
    lines += [
        f"| {count / total * 100:.1f} | `{label}` |" for label, count in inclusive.most_common(top)
    ]
    lines += [
        "",
        "## By innermost `src/pilothouse` frame (its own code and the library calls under it)",
        "",
        "| % of samples | function |",
        "|---|---|",
    ]
    lines += [
        f"| {count / total * 100:.1f} | `{label}` |" for label, count in attributed.most_common(top)
    ]
    lines += [
        "",
        "## Self time by leaf frame (and the innermost Pilothouse caller)",
        "",
        "| % of samples | leaf frame | called from |",
        "|---|---|---|",
    ]
    lines += [
        f"| {count / total * 100:.1f} | `{leaf}` | `{caller}` |"
        for (leaf, caller), count in leaves.most_common(top)
    ]
    return "\n".join(lines) + "\n"


async def profile(args: argparse.Namespace) -> tuple[str, str]:
    """Run the harness and the server, record the server under load; a line on the run
    (runs, CPU per run by thread) and the collapsed stacks."""
    py_spy = ensure_py_spy()
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setaffinity(0, {HARNESS_CORE})
    print(f"Conditions: {await wait_quiet(args.quiet_wait, args.max_load)}", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="pilothouse-agentprofile-"))
    raw = workdir / "stacks.txt"
    try:
        async with harness() as h:
            h.set_latency(*args.delays[0])
            store = f"sqlite:///{workdir}/bench.db"
            async with (
                pilothouse_server(store, h.upstream.url, h.tools_url, workdir) as (url, pid),
                bench_client() as client,
            ):
                await drive_pilothouse(client, url, pid, args.concurrency, args.warmup, 1)
                argv = [str(py_spy), "record", "--pid", str(pid), "--rate", str(args.rate), "--gil"]
                argv += ["--format", "raw", "--nolineno", "--output", str(raw)]
                spy = await asyncio.create_subprocess_exec(
                    *pinned(HARNESS_CORE, argv),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                try:
                    await asyncio.sleep(1.0)
                    cell = await drive_pilothouse(client, url, pid, args.concurrency, 0, args.runs)
                finally:
                    spy.send_signal(signal.SIGINT)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(spy.wait(), 30)
                    await stop_process(spy)
                threads = cell.extra["cpu_ms_per_run_by_thread"]
                header = (
                    f"{len(cell.runs)} runs in {cell.wall_s:.2f} s; server CPU per run under"
                    f" py-spy {cell.cpu_s / len(cell.runs) * 1000:.3f} ms, by thread (ms): "
                    + ", ".join(f"{name} {ms:.3f}" for name, ms in threads.items())
                )
                print(header, flush=True)
        return header, raw.read_text()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    """Parse the options, profile, write the stacks and the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delays", type=parse_delays, default=parse_delays("0/0"))
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3000)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--quiet-wait", type=float, default=900)
    parser.add_argument("--max-load", type=float, default=0.5)
    parser.add_argument("--out", type=Path, default=RESULTS / "agent_profile.txt")
    parser.add_argument("--summarise", type=Path, help="only summarise these stacks again")
    args = parser.parse_args()
    if args.summarise:
        print(summarise(args.summarise.read_text(), args.top))
        return
    import uvloop

    try:
        header, collapsed = uvloop.run(profile(args))
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(collapsed)
    report = (
        "# Agent loop: py-spy profile of the Pilothouse server\n\n"
        f"`python bench/agent_profile.py --delays {args.delays[0][0]:g}/{args.delays[0][1]:g}"
        f" --concurrency {args.concurrency} --runs {args.runs} --rate {args.rate}`\n\n"
        + header
        + "\n\n"
        + summarise(collapsed, args.top)
    )
    args.out.with_suffix(".md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
