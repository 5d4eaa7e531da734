"""Gateway overhead: what Pilothouse adds on top of an instant upstream, next to its peers.

It reproduces ``shared/reference/perf_method.md``: an instant mock upstream
(``bench/mock_upstream.py``) and the load generator (``wrk``, one thread) pinned to core 0,
the system under test pinned to core 1 with one worker process, a warm-up then a timed
run per cell, concurrency 1, 16 and 64, for non-streaming and streaming
``POST /v1/responses``. The systems measured, one at a time:

* ``direct``: the mock upstream itself (the floor);
* ``pilothouse``: ``pilothouse serve`` with its SQLite store in a temp dir (responses
  stored) and an ``openai`` provider pointed at the mock;
* ``minimal``: ``bench/minimal_proxy.py``, a bare aiohttp pass-through (the ceiling);
* ``litellm``: the LiteLLM proxy from its own virtualenv (``bench/.venvs/litellm``,
  installed here on first use, never a project dependency), configured as in
  perf_method.md.

Besides the load cells it measures, per spawned system, the time from spawn to the first
successful ``POST /v1/responses`` and the idle RSS after start-up, and it records CPU per
request and how busy each core was (other people's jobs on a shared machine show up as
busy time on core 1 that the system under test did not use). Machines drift, so every
target is judged as a ratio to a peer measured in the same run.

Outputs ``bench/results/gateway_overhead.json`` (raw) and ``gateway_overhead.md``
(tables). ``--quick`` shortens everything for iteration; its figures are not the record.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
LITELLM_VENV = BENCH / ".venvs" / "litellm"
PYCACHE = BENCH / ".venvs" / "pycache"
LOADGEN_CPU = "0"
SUT_CPU = "1"
MASTER_KEY = "sk-bench-0000"
MODEL = "gpt-4o-mini"
PROMPT = "Summarise ticket 4411 in one sentence and name the next action."
TARGETS = ("direct", "pilothouse", "minimal", "litellm")
MODES = ("json", "stream")
READY_TIMEOUT_S = 180.0

LUA_REPORTER = """
wrk.method = "POST"
wrk.body = [==[%(body)s]==]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(key)s"

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%%d,"duration_us":%%d,"bytes":%%d,"mean_us":%%f,' ..
    '"p50_us":%%d,"p90_us":%%d,"p95_us":%%d,"p99_us":%%d,"max_us":%%d,' ..
    '"err_connect":%%d,"err_read":%%d,"err_write":%%d,"err_status":%%d,"err_timeout":%%d}\\n',
    summary.requests, summary.duration, summary.bytes, latency.mean,
    latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""

LITELLM_CONFIG = """model_list:
  - model_name: %(model)s
    litellm_params: {model: openai/%(model)s, api_base: %(upstream)s/v1, api_key: dummy}
litellm_settings: {num_retries: 0, request_timeout: 30, callbacks: [], success_callback: [], \
failure_callback: [], set_verbose: false}
general_settings: {disable_spend_logs: true}
"""

PROVIDERS = """providers:
  - name: mock
    kind: openai
    base_url: %(upstream)s/v1
    api_key: dummy
routes:
  - match: "*"
    provider: mock
"""


# -- small helpers -----------------------------------------------------------------------


def free_port() -> int:
    """A port that was free on loopback a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def request_body(mode: str) -> bytes:
    """The one request every system gets: a short prompt, stored, streamed or not."""
    body: dict[str, Any] = {"model": MODEL, "input": PROMPT, "store": True}
    if mode == "stream":
        body["stream"] = True
    return json.dumps(body, separators=(",", ":")).encode()


def post(port: int, body: bytes, timeout: float = 10.0) -> tuple[int, bytes]:
    """One blocking ``POST /v1/responses`` on loopback: (status, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"content-type": "application/json", "authorization": f"Bearer {MASTER_KEY}"}
        conn.request("POST", "/v1/responses", body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def get(port: int, path: str) -> tuple[int, bytes]:
    """One blocking GET on loopback: (status, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"authorization": f"Bearer {MASTER_KEY}"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (from /proc/<pid>/task/*/children)."""
    seen, todo = [], [pid]
    while todo:
        current = todo.pop()
        seen.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            with contextlib.suppress(OSError):
                todo += [int(c) for c in (task / "children").read_text().split()]
    return seen


def status_kb(pid: int, key: str) -> int:
    """A ``kB`` field of /proc/<pid>/status (VmRSS, VmHWM), 0 when gone."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def rss(pid: int) -> dict[str, Any]:
    """Resident memory of the process and of its whole tree, in KiB and MiB."""
    tree = process_tree(pid)
    main_kb = status_kb(pid, "VmRSS")
    tree_kb = sum(status_kb(p, "VmRSS") for p in tree)
    return {
        "pid_vmrss_kib": main_kb,
        "tree_vmrss_kib": tree_kb,
        "tree_processes": len(tree),
        "pid_vmrss_mib": round(main_kb / 1024, 1),
        "tree_vmrss_mib": round(tree_kb / 1024, 1),
    }


def cpu_seconds(pid: int) -> float:
    """User+system CPU seconds used so far by the process tree of ``pid``."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in process_tree(pid):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def core_times() -> dict[str, tuple[int, int]]:
    """(busy, total) jiffies per CPU from /proc/stat."""
    out = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *values = line.split()
        if name.startswith("cpu") and name != "cpu":
            nums = [int(v) for v in values]
            idle = nums[3] + nums[4]
            out[name] = (sum(nums[:8]) - idle, sum(nums[:8]))
    return out


def core_busy(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> dict:
    """Fraction of time each CPU was busy between two :func:`core_times` readings."""
    busy = {}
    for name, (b1, t1) in after.items():
        b0, t0 = before.get(name, (0, 0))
        busy[name] = round((b1 - b0) / (t1 - t0), 3) if t1 > t0 else 0.0
    return busy


def wait_quiet(limit: float, max_wait_s: float) -> dict[str, Any]:
    """Wait (bounded) until neither core is busier than ``limit`` over a 0.5 s sample.

    Between cells nothing of ours runs, so busy time then is other people's jobs on the
    shared machine; starting a cell under them would measure them too. Returns how long
    it waited and the last sample, so a noisy cell is visible in the results.
    """
    started = time.perf_counter()
    while True:
        before = core_times()
        time.sleep(0.5)
        busy = core_busy(before, core_times())
        waited = time.perf_counter() - started
        if max(busy.values(), default=0.0) <= limit or waited >= max_wait_s:
            return {"waited_s": round(waited, 1), "idle_sample_busy": busy}
        time.sleep(1.5)


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next(
        (ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines() if ln.startswith("model name")),
        platform.processor() or "unknown",
    )
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    mem_kb = int(next(ln.split()[1] for ln in meminfo if ln.startswith("MemTotal:")))
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "ram_gib": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "date_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "loadavg_at_start": Path("/proc/loadavg").read_text().split()[:3],
        "git_commit": _run_text(["git", "-C", str(ROOT), "rev-parse", "HEAD"]),
        "wrk": _run_text(["wrk", "-v"]).splitlines()[0] if shutil.which("wrk") else None,
    }


def _run_text(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (done.stdout or done.stderr).strip()


def log(message: str) -> None:
    """Progress on stderr (stdout stays quiet for the final summary)."""
    stamp = time.strftime("%H:%M:%S")
    print(f"[{stamp}] {message}", file=sys.stderr, flush=True)


# -- processes ---------------------------------------------------------------------------


@dataclass
class Server:
    """A spawned server pinned to one CPU, with its log file and start-up probe."""

    name: str
    argv: list[str]
    port: int
    cpu: str
    env: dict[str, str] = field(default_factory=dict)
    log_path: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    spawned_at: float = 0.0

    def start(self) -> Server:
        """Spawn under ``taskset -c <cpu>`` in its own session (so it stops as a group)."""
        env = {**os.environ, **self.env}
        env.pop("OPENAI_API_KEY", None)
        env.pop("PILOTHOUSE_OPENAI_API_KEY", None)
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.spawned_at = time.perf_counter()
        self.proc = subprocess.Popen(
            ["taskset", "-c", self.cpu, *self.argv],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    @property
    def pid(self) -> int:
        """The server's pid (``taskset`` execs, so it is the server itself)."""
        assert self.proc is not None
        return self.proc.pid

    def wait_first_response(self, body: bytes, timeout_s: float = READY_TIMEOUT_S) -> float:
        """Poll until ``POST /v1/responses`` answers 200; seconds since spawn."""
        assert self.proc is not None
        deadline = self.spawned_at + timeout_s
        last = ""
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}: {self.tail()}")
            try:
                status, payload = post(self.port, body, timeout=30)
            except OSError as exc:
                last = repr(exc)
                time.sleep(0.01)
                continue
            if status == 200:
                return time.perf_counter() - self.spawned_at
            last = f"HTTP {status}: {payload[:300]!r}"
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} gave no 200 in {timeout_s:.0f} s ({last}): {self.tail()}")

    def tail(self, lines: int = 15) -> str:
        """The end of the server's log, for error messages."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM the server's process group, then SIGKILL it if it lingers."""
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)


def pilothouse_executable() -> str:
    """The ``pilothouse`` console script of the running interpreter's environment."""
    beside = Path(sys.executable).parent / "pilothouse"
    found = str(beside) if beside.exists() else shutil.which("pilothouse")
    if not found:
        raise SystemExit("pilothouse is not installed in this environment: run `make setup`")
    return found


def ensure_litellm(install: bool) -> tuple[Path | None, str]:
    """The ``litellm`` executable from ``bench/.venvs/litellm``, installing it if allowed."""
    exe = LITELLM_VENV / "bin" / "litellm"
    if exe.exists():
        return exe, ""
    if not install:
        return None, "not installed (run without --no-install to install it)"
    log(f"installing litellm[proxy] into {LITELLM_VENV} (one time, a few minutes)")
    steps = [
        [sys.executable, "-m", "venv", str(LITELLM_VENV)],
        [str(LITELLM_VENV / "bin" / "pip"), "install", "-q", "litellm[proxy]"],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, timeout=1800, check=False)
        if done.returncode != 0:
            return None, f"install failed: {' '.join(step)}: {done.stderr[-500:]}"
    return (exe, "") if exe.exists() else (None, "install finished but no litellm executable")


def litellm_version() -> str:
    """The installed LiteLLM version."""
    py = LITELLM_VENV / "bin" / "python"
    return _run_text([str(py), "-c", "import importlib.metadata as m; print(m.version('litellm'))"])


def make_server(name: str, upstream: str, workdir: Path, trial: int) -> Server:
    """The spawn recipe for one system under test (a fresh store per trial; trial -1 is the
    untimed priming start)."""
    port = free_port()
    log_path = workdir / f"{name}.log"
    if name == "pilothouse":
        data = workdir / f"pilothouse-{trial + 1}"
        data.mkdir()
        providers = data / "providers.yaml"
        providers.write_text(PROVIDERS % {"upstream": upstream})
        argv = [
            pilothouse_executable(), "serve", "--host", "127.0.0.1", "--port", str(port),
            "--store", f"sqlite:///{data / 'pilothouse.db'}", "--providers-file", str(providers),
            "--workers", "1", "--log-level", "warning",
        ]  # fmt: skip
        # Authenticated like every client: the load generator's key is the server's
        # bootstrap key (a digest compare in memory; a stored key adds one indexed read).
        env = {"PILOTHOUSE_ADMIN_KEY": MASTER_KEY}
        return Server(name, argv, port, SUT_CPU, env=env, log_path=log_path)
    if name == "minimal":
        argv = [sys.executable, str(BENCH / "minimal_proxy.py"), "--port", str(port)]
        return Server(name, [*argv, "--upstream", upstream], port, SUT_CPU, log_path=log_path)
    if name == "litellm":
        config = workdir / "litellm_config.yaml"
        config.write_text(LITELLM_CONFIG % {"model": MODEL, "upstream": upstream})
        argv = [
            str(LITELLM_VENV / "bin" / "litellm"), "--config", str(config),
            "--host", "127.0.0.1", "--port", str(port), "--num_workers", "1",
        ]  # fmt: skip
        env = {
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "LITELLM_LOG": "ERROR",
            "LITELLM_MASTER_KEY": MASTER_KEY,
        }
        return Server(name, argv, port, SUT_CPU, env=env, log_path=log_path)
    raise ValueError(name)


# -- load --------------------------------------------------------------------------------


@dataclass
class LoadGen:
    """Runs one closed-loop load cell with wrk (or the Python fallback) on core 0."""

    tool: str
    workdir: Path

    def script(self, mode: str) -> Path:
        """The file that carries the request body (a Lua script for wrk)."""
        if self.tool == "wrk":
            path = self.workdir / f"post_{mode}.lua"
            body = request_body(mode).decode()
            path.write_text(LUA_REPORTER % {"body": body, "key": MASTER_KEY})
        else:
            path = self.workdir / f"body_{mode}.json"
            path.write_bytes(request_body(mode))
        return path

    def run(self, port: int, mode: str, concurrency: int, seconds: float) -> dict[str, Any]:
        """Drive ``POST /v1/responses`` on ``port``; the reporter's summary."""
        url = f"http://127.0.0.1:{port}/v1/responses"
        script = self.script(mode)
        if self.tool == "wrk":
            argv = [
                "wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s",
                "--timeout", "30s", "-s", str(script), url,
            ]  # fmt: skip
        else:
            argv = [
                sys.executable, str(BENCH / "loadgen.py"), url, "--body-file", str(script),
                "-c", str(concurrency), "-d", str(seconds),
                "--header", f"Authorization: Bearer {MASTER_KEY}",
            ]  # fmt: skip
        done = subprocess.run(
            ["taskset", "-c", LOADGEN_CPU, *argv],
            capture_output=True,
            text=True,
            timeout=seconds + 120,
            check=False,
        )
        line = next((ln for ln in done.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
        if line is None:
            raise RuntimeError(f"load generator failed: {done.stdout[-500:]} {done.stderr[-500:]}")
        summary: dict[str, Any] = json.loads(line.split(" ", 1)[1])
        return summary


def measure_cell(
    gen: LoadGen, port: int, pid: int | None, mode: str, concurrency: int, args: argparse.Namespace
) -> dict[str, Any]:
    """Warm up, then time one cell; latency in ms, throughput in req/s, CPU per request."""
    quiet = wait_quiet(args.quiet_limit, args.quiet_wait)
    if quiet["waited_s"] > 1:
        log(f"  waited {quiet['waited_s']} s for a quiet machine: {quiet['idle_sample_busy']}")
    gen.run(port, mode, concurrency, args.warmup)
    cores0, cpu0 = core_times(), cpu_seconds(pid) if pid else 0.0
    raw = gen.run(port, mode, concurrency, args.duration)
    cores1, cpu1 = core_times(), cpu_seconds(pid) if pid else 0.0
    seconds = raw["duration_us"] / 1e6
    errors = {k[4:]: v for k, v in raw.items() if k.startswith("err_") and v}
    busy = core_busy(cores0, cores1)
    cell = {
        "mode": mode,
        "concurrency": concurrency,
        "requests": raw["requests"],
        "seconds": round(seconds, 3),
        "rps": round(raw["requests"] / seconds, 1) if seconds else 0.0,
        "p50_ms": round(raw["p50_us"] / 1000, 3),
        "p90_ms": round(raw["p90_us"] / 1000, 3),
        "p95_ms": round(raw["p95_us"] / 1000, 3),
        "p99_ms": round(raw["p99_us"] / 1000, 3),
        "max_ms": round(raw["max_us"] / 1000, 3),
        "mean_ms": round(raw["mean_us"] / 1000, 3),
        "errors": errors,
        "core_busy": busy,
        "before_cell": quiet,
    }
    if pid:
        used = cpu1 - cpu0
        cell["sut_cpu_s"] = round(used, 2)
        cell["sut_cpu_us_per_req"] = (
            round(used / raw["requests"] * 1e6, 1) if raw["requests"] else 0
        )
        sut_core = f"cpu{SUT_CPU}"
        if sut_core in busy and seconds:
            # busy time on the SUT's core that the SUT did not account for: other tenants
            cell["foreign_busy_sut_core"] = round(max(0.0, busy[sut_core] - used / seconds), 3)
    return cell


# -- validation --------------------------------------------------------------------------


def validate(name: str, port: int) -> list[str]:
    """Check that each mode really answers a Responses object / stream (and is stored)."""
    notes = []
    status, payload = post(port, request_body("json"))
    if status != 200 or b"output_text" not in payload:
        raise RuntimeError(f"{name}: non-streaming answer is wrong: {status} {payload[:300]!r}")
    if name == "pilothouse":
        response_id = json.loads(payload)["id"]
        got, _ = get(port, f"/v1/responses/{response_id}")
        if got != 200:
            raise RuntimeError(f"pilothouse did not store {response_id}: GET answered {got}")
        notes.append(f"stored: GET /v1/responses/{response_id} -> 200")
    status, payload = post(port, request_body("stream"))
    if status != 200 or b"response.completed" not in payload:
        raise RuntimeError(f"{name}: streaming answer is wrong: {status} {payload[:300]!r}")
    notes.append(f"json and stream answers valid ({len(payload)} B stream)")
    return notes


# -- the run -----------------------------------------------------------------------------


@dataclass
class Target:
    """One system under test: where to send load, its process (none for ``direct``) and
    everything measured on it so far."""

    name: str
    port: int = 0
    server: Server | None = None
    result: dict[str, Any] = field(default_factory=lambda: {"status": "ok"})

    @property
    def ok(self) -> bool:
        """Still being measured (not skipped, not failed)."""
        return self.result["status"] == "ok"

    def fail(self, exc: Exception) -> None:
        """Record why it failed, keep its log, and stop it."""
        log(f"{self.name}: FAILED: {exc}")
        self.result.update(status="failed", reason=str(exc))
        if self.server is not None:
            with contextlib.suppress(OSError):
                RESULTS.mkdir(parents=True, exist_ok=True)
                if self.server.log_path is not None:
                    shutil.copy(self.server.log_path, RESULTS / f"{self.name}.failed.log")
            self.server.stop()

    def finish(self) -> None:
        """Read the memory left after the load, then stop the server."""
        if self.server is None:
            return
        if self.ok:
            after = rss(self.server.pid)
            after["pid_vmhwm_kib"] = status_kb(self.server.pid, "VmHWM")
            self.result["rss_after_load"] = after
        self.server.stop()


def prepare(name: str, upstream_port: int, workdir: Path, args: argparse.Namespace) -> Target:
    """Install if needed, run the start-up trials, validate; the server stays up."""
    target = Target(name, port=upstream_port)
    if name == "litellm":
        exe, reason = ensure_litellm(not args.no_install)
        if exe is None:
            target.result = {"status": "skipped", "reason": reason}
            log(f"litellm skipped: {reason}")
            return target
        target.result["version"] = litellm_version()
    try:
        if name != "direct":
            target.server, startup = start_with_trials(name, upstream_port, workdir, args)
            target.result.update(startup)
            target.port = target.server.port
        target.result["validation"] = validate(name, target.port)
    except RuntimeError as exc:
        target.fail(exc)
    target.result["cells"] = []
    return target


def run_matrix(targets: list[Target], gen: LoadGen, args: argparse.Namespace) -> None:
    """Every (mode, concurrency) cell, the systems back to back within each cell, so that
    slow drifts in a shared machine's load hit the systems being compared alike."""
    for mode in args.modes:
        for concurrency in args.concurrency:
            for target in targets:
                if not target.ok:
                    continue
                log(f"{target.name}: {mode} c={concurrency}")
                pid = target.server.pid if target.server else None
                try:
                    cell = measure_cell(gen, target.port, pid, mode, concurrency, args)
                except RuntimeError as exc:
                    target.fail(exc)
                    continue
                log(
                    f"  {cell['rps']:.0f} req/s p50 {cell['p50_ms']:.3f} ms "
                    f"p99 {cell['p99_ms']:.3f} ms errors {cell['errors'] or 0} "
                    f"foreign {cell.get('foreign_busy_sut_core', '-')}"
                )
                target.result["cells"].append(cell)


def start_with_trials(
    name: str, upstream_port: int, workdir: Path, args: argparse.Namespace
) -> tuple[Server, dict[str, Any]]:
    """Spawn ``args.startup_trials`` times (fresh store each), timing spawn → first 200 and
    reading the idle RSS; the last instance stays up for the load cells."""
    upstream = f"http://127.0.0.1:{upstream_port}"
    times, idle = [], []
    priming = make_server(name, upstream, workdir, -1).start()
    try:
        primed = priming.wait_first_response(request_body("json"))
    finally:
        priming.stop()
    log(f"{name}: priming start (untimed, fills the bytecode cache): {primed:.3f} s")
    server: Server | None = None
    for trial in range(args.startup_trials):
        if server is not None:
            server.stop()
        wait_quiet(args.quiet_limit, args.quiet_wait)
        server = make_server(name, upstream, workdir, trial).start()
        seconds = server.wait_first_response(request_body("json"))
        time.sleep(args.idle_settle)
        idle.append(rss(server.pid))
        times.append(round(seconds, 3))
        log(
            f"{name}: start-up trial {trial + 1}: {seconds:.3f} s, "
            f"idle {idle[-1]['pid_vmrss_mib']} MiB"
        )
    assert server is not None
    return server, {
        "startup_s": {
            "trials": times,
            "median": round(statistics.median(times), 3),
            "priming_start_s": round(primed, 3),
        },
        "idle_rss": {
            "trials": idle,
            "median_pid_vmrss_mib": round(statistics.median(r["pid_vmrss_mib"] for r in idle), 1),
            "median_tree_vmrss_mib": round(statistics.median(r["tree_vmrss_mib"] for r in idle), 1),
        },
    }


def cell_of(results: dict[str, Any], target: str, mode: str, concurrency: int) -> dict | None:
    """The measured cell, or None when that system or cell did not run."""
    for cell in results.get(target, {}).get("cells", []):
        if cell["mode"] == mode and cell["concurrency"] == concurrency:
            return dict(cell)
    return None


def judge(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The targets, each as a ratio or difference to a peer from the same run."""
    checks: list[dict[str, Any]] = []

    def add(target: str, value: float | None, limit: float, better: str, detail: str) -> None:
        met = None if value is None else (value <= limit if better == "le" else value >= limit)
        sign = "≤" if better == "le" else "≥"
        checks.append(
            {"target": target, "value": value, "limit": f"{sign} {limit:g}", "met": met,
             "detail": detail}
        )  # fmt: skip

    for mode in MODES:
        ph, direct = cell_of(results, "pilothouse", mode, 1), cell_of(results, "direct", mode, 1)
        added = round(ph["p50_ms"] - direct["p50_ms"], 3) if ph and direct else None
        detail = (
            f"pilothouse {ph['p50_ms']} ms - direct {direct['p50_ms']} ms" if ph and direct else ""
        )
        add(f"added p50 at c=1, {mode} (ms)", added, 1.0, "le", detail)
        ph64 = cell_of(results, "pilothouse", mode, 64)
        for peer, limit, label in (("litellm", 20, "x LiteLLM"), ("minimal", 0.30, "of minimal")):
            other = cell_of(results, peer, mode, 64)
            ratio = (
                round(ph64["rps"] / other["rps"], 2) if ph64 and other and other["rps"] else None
            )
            detail = (
                f"pilothouse {ph64['rps']} / {peer} {other['rps']} req/s"
                if ratio is not None
                else ""
            )
            add(f"req/s at c=64 {label}, {mode}", ratio, limit, "ge", detail)
    ph = results.get("pilothouse", {})
    if "startup_s" in ph:
        start = ph["startup_s"]["median"]
        add("start-up to first 200 (s, median)", start, 1.5, "le", f"trials {ph['startup_s']}")
        idle = ph["idle_rss"]["median_pid_vmrss_mib"]
        add("idle RSS (MiB, median)", idle, 80, "le", f"{idle * 1.048576:.1f} MB (10^6 B)")
    return checks


def markdown(report: dict[str, Any]) -> str:
    """Human-readable tables of one run (also embedded in RESULTS.md)."""
    m = report["machine"]
    lines = [
        f"Run {m['date_utc']} on {m['nproc']} x {m['cpu_model']}, {m['ram_gib']} GiB RAM, "
        f"Python {m['python']}, kernel {m['kernel']}, {m['wrk'] or 'Python load generator'}; "
        f"load average at start {' '.join(m['loadavg_at_start'])}; "
        f"warm-up {report['config']['warmup_s']} s + {report['config']['duration_s']} s per cell; "
        f"load generator: {report['config']['loadgen']}; "
        f"bytecode cache {report['config']['bytecode_cache']}.",
        "",
        "| system | mode | conc. | req/s | p50 ms | p95 ms | p99 ms | SUT CPU µs/req "
        "| foreign busy on core 1 | errors |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for name, result in report["results"].items():
        if result.get("status") != "ok":
            lines.append(f"| {name} | — | — | {result.get('status')}: {result.get('reason')} |")
            continue
        for c in result["cells"]:
            lines.append(
                f"| {name} | {c['mode']} | {c['concurrency']} | {c['rps']:.0f} | {c['p50_ms']:.3f} "
                f"| {c['p95_ms']:.3f} | {c['p99_ms']:.3f} | {c.get('sut_cpu_us_per_req', '—')} "
                f"| {c.get('foreign_busy_sut_core', '—')} | {c['errors'] or '—'} |"
            )
    cells = [c for r in report["results"].values() for c in r.get("cells", [])]
    noisy = [c for c in cells if c.get("foreign_busy_sut_core", 0) > 0.1]
    waited = [c for c in cells if c["before_cell"]["waited_s"] > 1]
    lines += [
        "",
        f"Noise: {len(waited)} of {len(cells)} cells waited for other jobs to quiet down first; "
        f"in {len(noisy)} the SUT's core was more than 10% busy with work not its own.",
    ]
    lines += ["", "| system | start-up to first 200, s (trials) | idle RSS MiB (process / tree) "
              "| RSS after load MiB | version |", "|---|---|---|---|---|"]  # fmt: skip
    for name, result in report["results"].items():
        if "startup_s" not in result:
            continue
        s, idle = result["startup_s"], result["idle_rss"]
        after = result.get("rss_after_load", {})
        lines.append(
            f"| {name} | {s['median']} ({', '.join(map(str, s['trials']))}) "
            f"| {idle['median_pid_vmrss_mib']} / {idle['median_tree_vmrss_mib']} "
            f"| {after.get('tree_vmrss_mib', '—')} | {result.get('version', '—')} |"
        )
    lines += ["", "| target | measured | limit | met |", "|---|--:|--:|---|"]
    for check in report["targets"]:
        met = {True: "**yes**", False: "**no**", None: "not measured"}[check["met"]]
        value = "—" if check["value"] is None else check["value"]
        lines.append(f"| {check['target']} | {value} | {check['limit']} | {met} |")
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line; ``--quick`` shortens every phase."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 s warm-up + 4 s cells, 1 trial")
    parser.add_argument("--warmup", type=float, default=None, help="seconds (default 3)")
    parser.add_argument("--duration", type=float, default=None, help="seconds (default 15)")
    parser.add_argument("--concurrency", default="1,16,64", help="comma-separated")
    parser.add_argument("--modes", default=",".join(MODES), help="json,stream")
    parser.add_argument("--targets", default=",".join(TARGETS), help=",".join(TARGETS))
    parser.add_argument("--startup-trials", type=int, default=None, help="default 3")
    parser.add_argument("--idle-settle", type=float, default=2.0, help="s before idle RSS")
    parser.add_argument(
        "--quiet-limit", type=float, default=0.15, help="max core busy fraction before a cell"
    )
    parser.add_argument(
        "--quiet-wait", type=float, default=120.0, help="max seconds to wait for quiet"
    )
    parser.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--no-install", action="store_true", help="do not install LiteLLM")
    parser.add_argument(
        "--cold-bytecode", action="store_true", help="servers compile every module at start"
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "gateway_overhead.json")
    args = parser.parse_args(argv)
    args.warmup = args.warmup if args.warmup is not None else (1.0 if args.quick else 3.0)
    args.duration = args.duration if args.duration is not None else (4.0 if args.quick else 15.0)
    if args.startup_trials is None:
        args.startup_trials = 1 if args.quick else 3
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    args.modes = [m for m in args.modes.split(",") if m]
    args.targets = [t for t in args.targets.split(",") if t]
    for target in args.targets:
        if target not in TARGETS:
            parser.error(f"unknown target {target!r}")
    return args


def pick_loadgen(choice: str) -> str:
    """wrk when present (or demanded), else the Python fallback, with install advice."""
    if shutil.which("taskset") is None:
        raise SystemExit("taskset (util-linux) is needed to pin processes to cores")
    if choice == "python":
        return "python"
    if shutil.which("wrk"):
        return "wrk"
    advice = "wrk not found: install it with `apt-get update && apt-get install -y wrk`"
    if choice == "wrk":
        raise SystemExit(advice)
    log(advice + "; falling back to bench/loadgen.py (costlier per request, lower ceiling)")
    return "python"


@contextlib.contextmanager
def mock_upstream(workdir: Path) -> Iterator[Server]:
    """The instant upstream on the load generator's core, up until the block ends."""
    port = free_port()
    argv = [sys.executable, str(BENCH / "mock_upstream.py"), "--port", str(port)]
    server = Server("mock", argv, port, LOADGEN_CPU, log_path=workdir / "mock.log").start()
    try:
        server.wait_first_response(request_body("json"), timeout_s=60)
        yield server
    finally:
        server.stop()


def bytecode_cache(cold: bool) -> str:
    """Set how spawned Python servers treat bytecode; the description goes in the report.

    A deployed install has compiled ``.pyc`` files, so by default the servers may write and
    read them, under ``bench/.venvs/pycache`` (``PYTHONPYCACHEPREFIX``: nothing lands beside
    the sources), and an untimed priming start fills that cache before the timed ones. A
    shell that exports ``PYTHONDONTWRITEBYTECODE=1`` would otherwise make every start
    compile every module from source (``--cold-bytecode`` measures exactly that).
    """
    if cold:
        os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
        os.environ.pop("PYTHONPYCACHEPREFIX", None)
        return "off: every start compiles from source (PYTHONDONTWRITEBYTECODE=1)"
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return f"on: .pyc cached under {PYCACHE.relative_to(ROOT)}, filled by a priming start"


def stop_on_signals() -> None:
    """Make SIGTERM and SIGINT unwind through ``finally`` blocks so that every server this
    run spawned is stopped (a background shell job starts with SIGINT ignored)."""

    def interrupt(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)


def main(argv: list[str] | None = None) -> int:
    """Run every requested system, write JSON and Markdown, print the Markdown."""
    args = parse_args(argv)
    stop_on_signals()
    bytecode = bytecode_cache(args.cold_bytecode)
    tool = pick_loadgen(args.loadgen)
    if (os.cpu_count() or 1) < 2:
        log("fewer than 2 CPUs: load generator and system under test will share a core")
    report: dict[str, Any] = {
        "machine": machine(),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "config": {
            "warmup_s": args.warmup,
            "duration_s": args.duration,
            "quick": args.quick,
            "concurrency": args.concurrency,
            "modes": args.modes,
            "loadgen": tool,
            "loadgen_cpu": LOADGEN_CPU,
            "sut_cpu": SUT_CPU,
            "mock_cpu": LOADGEN_CPU,
            "startup_trials": args.startup_trials,
            "bytecode_cache": bytecode,
            "request_json": request_body("json").decode(),
        },
        "results": {},
    }
    with tempfile.TemporaryDirectory(prefix="pilothouse-bench-") as tmp:
        workdir = Path(tmp)
        gen = LoadGen(tool, workdir)
        with mock_upstream(workdir) as upstream:
            targets: list[Target] = []
            try:
                for name in args.targets:
                    log(f"== {name}: start-up")
                    targets.append(prepare(name, upstream.port, workdir, args))
                run_matrix(targets, gen, args)
            finally:
                for target in targets:
                    target.finish()
                    report["results"][target.name] = target.result
    report["machine"]["loadavg_at_end"] = Path("/proc/loadavg").read_text().split()[:3]
    report["targets"] = judge(report["results"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    text = markdown(report)
    args.out.with_suffix(".md").write_text(text)
    print(text)
    log(f"wrote {args.out} and {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
