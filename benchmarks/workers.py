"""Isolated workers against zrun.Scope: start-up, call latency, and N plugins pooled vs one after another.

    python benchmarks/workers.py [--plugins N] [--size K] [--work SECONDS] [--runs R] [--rounds R]
    python benchmarks/workers.py --quick            # smoke test: tiny numbers, not a measurement

Everything runs in this process (no fixtures on disk: the plugin is a
MemorySource shipped to the workers). Levels: ``scope`` (zrun.Scope in the
host), ``interpreter`` (3.14+ only) and ``process``. The report is a
markdown table on stdout, with the machine's load average, because a busy
machine shrinks the pool's gain. The pool-vs-serial rounds alternate
(serial, then each pool) and the medians are reported.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

if not __package__:  # run as a script: find zrun from the checkout when it is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import zrun

PLUGIN = zrun.MemorySource(
    {
        "bench_plugin/__init__.py": (
            "def noop():\n"
            "    return None\n"
            "\n"
            "def work(iterations):\n"
            "    total = 0\n"
            "    for i in range(iterations):\n"
            "        total += i * i\n"
            "    return total\n"
        )
    },
    name="bench_plugin",
)


def parse(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="benchmarks/workers.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--plugins", type=int, default=8, help="plugins run in the pool-vs-serial case (default 8)")
    parser.add_argument("--size", type=int, default=os.cpu_count() or 2, help="pool size (default: the CPU count)")
    parser.add_argument("--work", type=float, default=0.25, help="CPU seconds each plugin computes (default 0.25)")
    parser.add_argument("--runs", type=int, default=11, help="rounds for start-up and latency medians (default 11)")
    parser.add_argument("--rounds", type=int, default=5, help="alternated pool-vs-serial rounds (default 5)")
    parser.add_argument("--quick", action="store_true", help="2 plugins, tiny work, 2 rounds")
    args = parser.parse_args(argv)
    if args.quick:
        args.plugins, args.work, args.runs, args.rounds = 2, 0.01, 2, 1
    return args


def levels() -> Dict[str, Optional[type]]:
    """Level name -> worker class (None: zrun.Scope in the host)."""
    found: Dict[str, Optional[type]] = {"scope": None}
    if zrun.InterpreterWorker.available():
        found["interpreter"] = zrun.InterpreterWorker
    found["process"] = zrun.ProcessWorker
    return found


def timed(action: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def iterations_for(seconds: float) -> int:
    """Loop iterations of the plugin's work() that take about ``seconds`` here."""
    probe = 200_000
    with zrun.Scope(PLUGIN) as scope:
        elapsed = timed(lambda: scope.call("bench_plugin:work", probe), 3)
    return max(1, int(probe * seconds / max(elapsed, 1e-9)))


def start_up(kind: Optional[type], runs: int) -> float:
    """A fresh worker (or scope) and its first call."""
    if kind is None:
        return timed(lambda: zrun.Scope(PLUGIN).call("bench_plugin:noop"), runs)

    def fresh() -> None:
        with zrun.Workers(PLUGIN, worker=kind, size=1) as pool:
            pool.call("bench_plugin:noop")

    return timed(fresh, runs)


def latency(kind: Optional[type], runs: int) -> float:
    """One more call on a warm worker (or an entered scope)."""
    if kind is None:
        with zrun.Scope(PLUGIN) as scope:
            return timed(lambda: scope.call("bench_plugin:noop"), runs * 10)
    with zrun.Workers(PLUGIN, worker=kind, size=1) as pool:
        pool.call("bench_plugin:noop")
        return timed(lambda: pool.call("bench_plugin:noop"), runs * 10)


def serial(plugins: int, iterations: int) -> float:
    """What a host does without workers: each plugin in a scope, one after another."""
    start = time.perf_counter()
    for _ in range(plugins):
        zrun.Scope(PLUGIN).call("bench_plugin:work", iterations)
    return time.perf_counter() - start


def pooled(kind: type, plugins: int, iterations: int, size: int) -> Tuple[float, float]:
    """All plugins submitted at once to a pool of ``size`` workers: wall time with and without start-up."""
    start = time.perf_counter()
    with zrun.Workers(PLUGIN, worker=kind, size=size) as pool:
        pool.start()
        started = time.perf_counter()
        futures = [pool.submit_call("bench_plugin:work", (iterations,)) for _ in range(plugins)]
        for future in futures:
            future.result()
        done = time.perf_counter()
    return done - start, done - started


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse(argv)
    iterations = iterations_for(args.work)
    found = levels()
    lines: List[str] = [
        f"Python {sys.version.split()[0]} on {sys.platform}, {os.cpu_count()} CPUs, "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg()) if hasattr(os, 'getloadavg') else 'n/a'}",
        "",
        "| level | start-up (fresh worker + first call) | call latency (warm) |",
        "|---|---|---|",
    ]
    for name, kind in found.items():
        lines.append(f"| {name} | {start_up(kind, args.runs) * 1e3:.2f} ms | {latency(kind, args.runs) * 1e6:.0f} µs |")
    pools = {name: kind for name, kind in found.items() if kind is not None}
    serial_times: List[float] = []
    pool_times: Dict[str, List[Tuple[float, float]]] = {name: [] for name in pools}
    for _ in range(args.rounds):
        serial_times.append(serial(args.plugins, iterations))
        for name, kind in pools.items():
            pool_times[name].append(pooled(kind, args.plugins, iterations, args.size))
    base = statistics.median(serial_times)
    lines += [
        "",
        f"{args.plugins} plugins of ~{args.work:g} s CPU each, pool of {args.size}, medians of {args.rounds} alternated rounds:",
        "",
        "| how | wall time | speed-up over serial | without worker start-up | speed-up |",
        "|---|---|---|---|---|",
        f"| serial, zrun.Scope in the host | {base:.3f} s | 1.00x | | |",
    ]
    for name, times in pool_times.items():
        cold = statistics.median(t[0] for t in times)
        warm = statistics.median(t[1] for t in times)
        lines.append(f"| pool of {args.size} {name} workers | {cold:.3f} s | {base / cold:.2f}x | {warm:.3f} s | {base / warm:.2f}x |")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
