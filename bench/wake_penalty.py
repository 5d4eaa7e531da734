"""What waking from idle costs a Python process on this machine: the same work, timed right
after other work and after sleeping.

The agent-loop benchmark's server sleeps while the model (10 ms) and the tools (5 ms) answer,
then works for a few hundred microseconds. On a virtual machine whose idle vCPU halts, the
caches and TLBs it wakes up to are cold, and every burst of work after a wait runs slower
than the same burst back to back. This measures how much slower, with no HTTP, no Pilothouse
and no other process involved: ``objects`` small dicts are made, then, in each repetition,
``touch`` of them are read in a fixed random order (scattered reads, like an interpreter's
walk over a request's objects), after sleeping ``sleep`` ms (0: right after the previous
repetition). It prints the median time per burst for each size and sleep, and the ratio to
the back-to-back time.

    python bench/wake_penalty.py [--core 1] [--reps 200]
    python bench/wake_penalty.py --probe     # one line of JSON: the host's phase, in ~2 s

``--probe`` measures only the 2,000-object burst, back to back and after 10 ms asleep, and
prints ``{"warm_us": …, "after_10ms_us": …, "ratio_10ms": …}``; ``agent_loop.py`` runs it
before every round and records it next to the round's ratios, since how much a wait costs
here swings from hour to hour and decides much of the 10/5 ms figures.

Results of a run go in ``bench/RESULTS.md`` (agent-loop section) with the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import time

SIZES = ((2_000, 2_000), (20_000, 2_000), (20_000, 20_000))
SLEEPS_MS = (0.0, 0.5, 2.0, 5.0, 10.0)


def burst(objects: list[dict[str, int]], order: list[int]) -> int:
    """Read one field of each object in ``order``."""
    total = 0
    for index in order:
        total += objects[index]["a"]
    return total


def measure(objects: list[dict[str, int]], order: list[int], sleep_s: float, reps: int) -> float:
    """Median seconds per burst, each burst after sleeping ``sleep_s``."""
    times = []
    for _ in range(reps):
        if sleep_s:
            time.sleep(sleep_s)
        start = time.perf_counter()
        burst(objects, order)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def workload(count: int, touch: int, rng: random.Random) -> tuple[list[dict[str, int]], list[int]]:
    """``count`` small dicts, and ``touch`` of their indexes in a random order."""
    return [{"a": i, "b": i * 2} for i in range(count)], rng.sample(range(count), touch)


def probe(reps: int) -> dict[str, float]:
    """The first size's burst back to back and after a 10 ms sleep (microseconds)."""
    objects, order = workload(*SIZES[0], random.Random(7))
    warm = measure(objects, order, 0.0, reps)
    slept = measure(objects, order, 0.010, reps)
    return {
        "warm_us": round(warm * 1e6, 1),
        "after_10ms_us": round(slept * 1e6, 1),
        "ratio_10ms": round(slept / warm, 2),
    }


def main() -> None:
    """Parse the arguments, pin to the core, measure and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--core", type=int, default=1, help="core to pin to (the SUT core)")
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--probe", action="store_true", help="one JSON line: 2,000 objects")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > args.core:
        os.sched_setaffinity(0, {args.core})
    if args.probe:
        print(json.dumps(probe(min(args.reps, 100))))
        return
    model = ""
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            names = (ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
            model = next(names, "")
    print(f"{os.cpu_count()} x {model}, Python {platform.python_version()}, core {args.core}")
    header = " | ".join(f"sleep {ms:g} ms" for ms in SLEEPS_MS)
    print(f"| objects | read per burst | {header} |")
    print("|---|---|" + "---|" * len(SLEEPS_MS))
    rng = random.Random(7)
    for count, touch in SIZES:
        objects, order = workload(count, touch, rng)
        warm = measure(objects, order, 0.0, args.reps)
        cells = []
        for ms in SLEEPS_MS:
            seconds = warm if ms == 0 else measure(objects, order, ms / 1000, args.reps)
            cells.append(f"{seconds * 1e6:,.0f} µs (x{seconds / warm:.1f})")
        print(f"| {count:,} | {touch:,} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
