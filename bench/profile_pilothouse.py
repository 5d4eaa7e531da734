"""Where Pilothouse spends its CPU under gateway load: a py-spy profile and its summary.

Same set-up as ``gateway_overhead.py`` (mock upstream and wrk on core 0, ``pilothouse
serve`` with a SQLite store on core 1), one cell (non-streaming, concurrency 64 by
default), with ``py-spy record`` sampling the server for the timed part. py-spy lives in
``bench/.venvs/tools`` (installed on first use; it is no project dependency). Outputs, in
``bench/results/``: the collapsed stacks (``profile_<mode>_c<N>.txt``), a flame graph
(``.svg``, from a second recording pass, only with ``--svg``) and a summary (``.md``): CPU
per thread, time per function itself (leaf) and including callees, and per package, as a
share of the samples and of one core. ``--native`` adds C frames (``_native`` files),
which is how the cyclic garbage collector's share shows up.

A summary file can be re-made from stacks alone: ``--summarise FILE``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import gateway_overhead as go

TOOLS_VENV = go.BENCH / ".venvs" / "tools"
THREAD = re.compile(r'^Thread (\d+) \([^)]*\): "(.*)"$', re.MULTILINE)
FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def ensure_py_spy() -> Path:
    """The py-spy executable from the tools virtualenv, installed when missing."""
    exe = TOOLS_VENV / "bin" / "py-spy"
    if not exe.exists():
        go.log(f"installing py-spy into {TOOLS_VENV}")
        subprocess.run([sys.executable, "-m", "venv", str(TOOLS_VENV)], check=True)
        subprocess.run([str(TOOLS_VENV / "bin" / "pip"), "install", "-q", "py-spy"], check=True)
    return exe


def short_file(path: str) -> str:
    """A file path shortened to what identifies it (``pilothouse/api/http.py``)."""
    for marker in ("site-packages/", "/src/", "/lib/python3.11/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def package(path: str) -> str:
    """The top-level package a frame's file belongs to (``stdlib`` for the standard one)."""
    short = short_file(path)
    if "site-packages/" in path or "/src/" in path:
        return short.split("/", 1)[0].removesuffix(".py")
    return (
        "stdlib:" + short.split("/", 1)[0].removesuffix(".py") if "/lib/python" in path else short
    )


def parse(stacks: Path) -> list[tuple[list[tuple[str, str]], int]]:
    """Collapsed stacks (``frame;frame;… count``) as ``[(func, file)], count`` pairs."""
    parsed = []
    for line in stacks.read_text().splitlines():
        if not line.strip():
            continue
        path, _, count = line.rpartition(" ")
        frames = []
        for raw in path.split(";"):
            match = FRAME.match(raw.strip())
            frames.append((match["func"], match["file"]) if match else (raw.strip(), ""))
        parsed.append((frames, int(count)))
    return parsed


def summarise(stacks: Path, seconds: float, rate: int, top: int = 30) -> str:
    """Markdown tables of self, inclusive and per-package time from collapsed stacks."""
    parsed = parse(stacks)
    total = sum(count for _, count in parsed)
    core = seconds * rate  # samples that one fully busy core would give
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    for frames, count in parsed:
        real = [f for f in frames if f[1]]  # drop thread/process pseudo-frames
        if not real:
            continue
        func, file = real[-1]
        own[f"{func} ({short_file(file)})"] += count
        packages[package(file)] += count
        for name in {f"{fn} ({short_file(fl)})" for fn, fl in real}:
            inclusive[name] += count
    collector = sum(n for frames, n in parsed if any("gc_collect" in f for f, _ in frames))
    lines = [
        f"{total} samples over {seconds:g} s at {rate} Hz "
        f"({total / core:.0%} of one core busy on average).",
        "",
    ]
    if collector:
        lines += [f"Cyclic garbage collector (`gc_collect*` frames): {collector / total:.1%}.", ""]
    lines += [
        "**By package (leaf frame)**",
        "",
        "| package | % samples | % of a core |",
        "|---|--:|--:|",
    ]
    lines += [f"| {p} | {c / total:.1%} | {c / core:.1%} |" for p, c in packages.most_common(15)]
    lines += ["", "**Self time (leaf frame)**", "", "| function | % samples |", "|---|--:|"]
    lines += [f"| `{name}` | {c / total:.1%} |" for name, c in own.most_common(top)]
    ours = [(n, c) for n, c in inclusive.most_common() if "pilothouse/" in n]
    lines += ["", "**Inclusive time, Pilothouse functions**", "", "| function | % samples |"]
    lines += ["|---|--:|"] + [f"| `{n}` | {c / total:.1%} |" for n, c in ours[:top]]
    lines += ["", "**Inclusive time, all functions**", "", "| function | % samples |", "|---|--:|"]
    lines += [f"| `{n}` | {c / total:.1%} |" for n, c in inclusive.most_common(top)]
    return "\n".join(lines) + "\n"


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds (user+system) used so far by each thread of ``pid``."""
    ticks = os.sysconf("SC_CLK_TCK")
    out = {}
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            out[int(task.name)] = (int(fields[11]) + int(fields[12])) / ticks
    return out


def thread_names(py_spy: Path, pid: int) -> dict[int, str]:
    """Python thread names by OS thread id, from ``py-spy dump``."""
    done = subprocess.run(
        [str(py_spy), "dump", "--pid", str(pid)], capture_output=True, text=True, check=False
    )
    return {int(m[1]): m[2] for m in THREAD.finditer(done.stdout)}


def spy_pass(
    py_spy: Path, server: go.Server, gen: go.LoadGen, fmt: str, out: Path, args: argparse.Namespace
) -> tuple[float, dict[str, float]]:
    """One timed load cell with py-spy recording ``fmt`` to ``out``.

    Returns the req/s seen and each thread's share of one core over the cell (from
    /proc, exact, unlike sampling, which counts a runnable-but-waiting thread as busy).
    """
    argv = [str(py_spy), "record", "--pid", str(server.pid), "--duration", str(int(args.duration)),
            "--rate", str(args.rate), "--format", fmt, "--output", str(out)]  # fmt: skip
    if args.gil:
        argv.append("--gil")
    if args.native:
        argv.append("--native")
    names = thread_names(py_spy, server.pid)
    before = thread_cpu(server.pid)
    spy = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(0.3)  # let py-spy attach before the load starts
    cell = gen.run(server.port, args.mode, args.concurrency, args.duration)
    after = thread_cpu(server.pid)
    _, err = spy.communicate(timeout=args.duration + 60)
    if spy.returncode != 0:
        raise SystemExit(f"py-spy failed: {err.decode(errors='replace')}")
    seconds = cell["duration_us"] / 1e6
    rps: float = cell["requests"] / seconds
    shares = Counter[str]()
    for tid, used in after.items():
        shares[names.get(tid, f"native thread {tid}")] += (used - before.get(tid, 0.0)) / seconds
    go.log(f"{fmt}: {rps:.0f} req/s while profiled -> {out}")
    return rps, {name: round(share, 3) for name, share in shares.most_common() if share > 0}


def record(args: argparse.Namespace) -> None:
    """Run the load cell with py-spy attached, then write stacks, summary (and SVG)."""
    py_spy = ensure_py_spy()
    tool = go.pick_loadgen("auto")
    go.RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = "_native" if args.native else ""
    stem = go.RESULTS / f"profile_{args.mode}_c{args.concurrency}{suffix}"
    with tempfile.TemporaryDirectory(prefix="pilothouse-profile-") as tmp:
        workdir = Path(tmp)
        gen = go.LoadGen(tool, workdir)
        with go.mock_upstream(workdir) as upstream:
            upstream_url = f"http://127.0.0.1:{upstream.port}"
            server = go.make_server("pilothouse", upstream_url, workdir, 0).start()
            try:
                server.wait_first_response(go.request_body("json"))
                gen.run(server.port, args.mode, args.concurrency, args.warmup)
                profiled_rps, threads = 0.0, {}
                passes = [("raw", stem.with_suffix(".txt"))]
                if args.svg:
                    passes.append(("flamegraph", stem.with_suffix(".svg")))
                for fmt, out in passes:
                    rps, shares = spy_pass(py_spy, server, gen, fmt, out, args)
                    if not profiled_rps:  # the stacks' pass is the first
                        profiled_rps, threads = rps, shares
            finally:
                server.stop()
    sampled = "only the thread holding the GIL (`--gil`)" if args.gil else "every runnable thread"
    header = (
        f"# Pilothouse profile: {args.mode}, concurrency {args.concurrency}\n\n"
        f"py-spy {args.rate} Hz for {args.duration:g} s under {tool} load, sampling {sampled}; "
        f"{profiled_rps:.0f} req/s while profiled (sampling costs some throughput).\n\n"
        "**CPU per thread** (from /proc, share of one core over the cell)\n\n"
        "| thread | share of a core |\n|---|--:|\n"
        + "".join(f"| {name} | {share:.0%} |\n" for name, share in threads.items())
        + "\n"
    )
    text = header + summarise(stem.with_suffix(".txt"), args.duration, args.rate)
    stem.with_suffix(".md").write_text(text)
    print(text)


def main() -> None:
    """Parse the command line; record a profile or summarise an existing one."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=go.MODES, default="json")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--rate", type=int, default=200, help="samples per second")
    parser.add_argument("--svg", action="store_true", help="also record a flame graph")
    parser.add_argument(
        "--no-gil",
        dest="gil",
        action="store_false",
        help="sample every runnable thread, not only the GIL holder",
    )
    parser.add_argument(
        "--native", action="store_true", help="include C frames (shows the cyclic GC)"
    )
    parser.add_argument("--summarise", type=Path, help="only summarise these stacks")
    args = parser.parse_args()
    go.stop_on_signals()
    go.bytecode_cache(cold=False)
    if args.summarise:
        print(summarise(args.summarise, args.duration, args.rate))
    else:
        record(args)


if __name__ == "__main__":
    main()
