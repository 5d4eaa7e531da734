"""Instructions per agent run: a measure of Pilothouse's work that the host's noise cannot move.

On this shared 2-vCPU guest, the time of the same server swings by ±10% or more between two
processes started a minute apart (``bench/agent_ab.py`` shows it), so a change worth a few
percent cannot be timed reliably in a noisy hour. Instructions can: each variant's
``pilothouse serve`` runs under valgrind's callgrind with instrumentation off, serves
``--warmup`` agent runs (the journey of ``agent_loop.py``, at concurrency 1), then counts
the instructions its process executes in user space (``Ir``) over ``--runs`` runs. Repeats
agree to about 0.1%.

What it does not see: time in the kernel (SQLite's WAL writes, sockets; count those with
``strace -c``), cache misses and the cost of waking up (the reasons 10/5 ms delays cost
more than 0/0 in ``agent_loop.py``), and threads other than the event loop's are counted
but idle. It measures work, not speed; the timed benchmarks stay the record.

Variants are given as in ``agent_ab.py``: ``NAME=VAR=value;VAR=value``, for instance
``base=PYTHONPATH=/tmp/base/src`` for a ``git worktree`` of an earlier commit, or
``traced=PILOTHOUSE_TRACE_EXPORTER=jsonl``. Needs ``valgrind`` (Debian:
``apt-get install valgrind``). Prints millions of instructions per run for each variant
and repeat; nothing is written unless ``--keep DIR`` asks for the callgrind profiles.
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import shutil
import subprocess
import tempfile
from pathlib import Path

import agent_loop
from agent_ab import variant
from agent_loop import bench_client, drive_pilothouse, harness, parse_delays, pilothouse_server

_pinned = agent_loop.pinned


def _under_callgrind(out_dir: Path) -> None:
    """Make ``agent_loop`` start the server under callgrind, instrumentation off."""

    def pinned(core: int, argv: list[str]) -> list[str]:
        if argv and str(argv[0]).endswith("pilothouse"):
            argv = [
                "valgrind",
                "--tool=callgrind",
                "--instr-atstart=no",
                f"--callgrind-out-file={out_dir}/callgrind.%p.out",
                *argv,
            ]
        return _pinned(core, argv)

    agent_loop.pinned = pinned


async def _run(*argv: str) -> str:
    """Run a command to its end; its output (an exception when it fails)."""
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {out.decode(errors='replace')}")
    return out.decode()


def _total_ir(out_dir: Path) -> int:
    total = 0
    for path in glob.glob(f"{out_dir}/callgrind.*.out*"):
        for line in Path(path).read_text().splitlines():
            if line.startswith(("summary:", "totals:")):
                total = max(total, int(line.split()[1]))
    return total


async def count(settings: dict[str, str], args: argparse.Namespace) -> float:
    """Millions of instructions per run of one server with ``settings``."""
    workdir = Path(tempfile.mkdtemp(prefix="pilothouse-instr-"))
    out_dir = workdir / "callgrind"
    out_dir.mkdir()
    _under_callgrind(out_dir)
    try:
        async with harness() as h:
            h.set_latency(*args.delays)
            store = f"sqlite:///{workdir}/bench.db"
            async with (
                pilothouse_server(store, h.upstream.url, h.tools_url, workdir, settings) as (
                    url,
                    pid,
                ),
                bench_client(limit_per_origin=10, timeout_s=120.0) as client,
            ):
                await drive_pilothouse(client, url, pid, 1, args.warmup, 1)
                found = await _run("pgrep", "-f", f"callgrind-out-file={out_dir}")
                target = found.split()[0]
                await _run("callgrind_control", "-i", "on", target)
                await drive_pilothouse(client, url, pid, 1, 0, args.runs)
                await _run("callgrind_control", "-i", "off", target)
                await _run("callgrind_control", "-d", target)
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            for path in out_dir.glob("callgrind.*.out*"):
                shutil.copy(path, args.keep / path.name)
        runs: int = args.runs
        return _total_ir(out_dir) / runs / 1e6
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    """Parse the options and count each variant ``--repeat`` times."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variant", nargs="+", help="NAME=VAR=value;VAR=value")
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--delays", type=lambda s: parse_delays(s)[0], default=(0.0, 0.0))
    parser.add_argument(
        "--keep",
        type=Path,
        help="copy the callgrind profiles here (for callgrind_annotate --inclusive=yes)",
    )
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    for text in args.variant:
        name, settings = variant(text)
        figures = [asyncio.run(count(settings, args)) for _ in range(args.repeat)]
        shown = ", ".join(f"{m:.3f}" for m in figures)
        print(f"{name:16s} {shown} M instructions per run", flush=True)


if __name__ == "__main__":
    main()
