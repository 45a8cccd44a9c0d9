"""Whole-process wall time and peak memory of child processes, alternated, summarised by medians.

A timed sample is one child process, from just before it is spawned to when it
is reaped, measured by this process. Within a case all commands run once per
round, in an order rotated by one place each round, so that whatever the
machine does meanwhile (frequency changes, another process) falls on every
command alike; warm-up rounds come first and are not recorded.

Peak RSS is measured in separate rounds, through GNU ``time`` (``-f %M``), a
C program of about 1 MiB. The wrapper has to be that small: Linux folds the
memory of the process that spawns a child into the child's ``ru_maxrss`` when
the child calls ``exec`` (``setmax_mm_hiwater_rss`` in ``exec_mmap``), so
``os.wait4`` or ``RUSAGE_CHILDREN`` read by this 18 MiB Python process report
18 MiB for every child, and a Python wrapper (8 MiB) is as big as the
smallest child it would measure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple


@dataclass
class Command:
    """One way of running something; ``key`` is stable, ``label`` is what the table shows."""

    key: str
    label: str
    argv: List[str]
    env: Dict[str, str]
    cwd: Path
    expect: str  # the whole of stdout, stripped
    fresh: Tuple[str, ...] = ()  # variables (ZRUN_CACHE_DIR, SHIV_ROOT) set to a new, empty folder for every run
    skip: Optional[str] = None  # why it is not run at all
    known_failure: str = ""  # when a failure is expected, why (the report puts it before the error)


@dataclass
class Outcome:
    """What the runs of one command gave: samples, or why there are none."""

    seconds: List[float] = field(default_factory=list)
    rss_kib: List[int] = field(default_factory=list)
    failure: Optional[str] = None
    skip: Optional[str] = None

    @property
    def ok(self) -> bool:
        return bool(self.seconds) and self.failure is None and self.skip is None


@dataclass(frozen=True)
class Sample:
    seconds: float
    rss_kib: Optional[int]  # only from a run through GNU time
    failure: Optional[str]


class Scratch:
    """Fresh, empty cache folders for cold runs: a new one for every run.

    They are removed together once the case is over, not after each run:
    deleting thousands of files between two timed runs would make the file
    system's bookkeeping land on whichever command runs next.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.made: List[Path] = []

    def fresh(self) -> Path:
        path = self.root / f"cold-{len(self.made) + 1}"
        self.made.append(path)
        return path  # the tools create what they need below it, as on a first run

    def clean(self) -> None:
        for path in self.made:
            shutil.rmtree(path, ignore_errors=True)
        self.made.clear()


def gnu_time(*preferred: str) -> Optional[str]:
    """GNU ``time``: one of ``preferred``, else the installed one (``-f %M`` is its maximum resident set size in KiB).

    The chroot has none of its own; the suite brings the host's (it needs
    nothing but libc) into the checkout and names it in ``preferred``.
    """
    for candidate in (*preferred, "/usr/bin/time", shutil.which("time")):
        if candidate and os.access(candidate, os.X_OK):
            probe = subprocess.run([candidate, "-f", "%M", "true"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            if probe.returncode == 0 and probe.stderr.strip().isdigit():
                return candidate
    return None


def _failure(returncode: int, stdout: str, stderr: str, expect: str) -> Optional[str]:
    if returncode == 0 and stdout.strip() == expect:
        return None
    lines = [line for line in (stderr or stdout).strip().splitlines() if line.strip()]
    last = lines[-1].strip() if lines else f"printed {stdout.strip()[:60]!r}, expected {expect!r}"
    return f"exit {returncode}: {last}" if returncode else last


def run_once(command: Command, scratch: Scratch, rss_via: Optional[str] = None) -> Sample:
    """Run ``command`` once: its wall time, or (``rss_via`` GNU time) its peak RSS; and whether it failed."""
    env = command.env
    if command.fresh:
        cold = scratch.fresh()
        env = dict(env, **{name: str(cold / name.lower()) for name in command.fresh})
    argv = command.argv
    report = scratch.root / "rss.txt"
    if rss_via is not None:
        argv = [rss_via, "-o", str(report), "-f", "%M", *argv]
    start = time.perf_counter()
    result = subprocess.run(argv, cwd=command.cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True)
    elapsed = time.perf_counter() - start
    stdout = result.stdout.decode("utf-8", "replace")
    failure = _failure(result.returncode, stdout, result.stderr.decode("utf-8", "replace"), command.expect)
    rss = None
    if rss_via is not None and failure is None:
        lines = report.read_text().split()
        rss = int(lines[-1]) if lines and lines[-1].isdigit() else None
    return Sample(elapsed, rss, failure)


def rotations(items: Sequence[Command], rounds: int) -> Iterable[List[Command]]:
    """``rounds`` orders of ``items``, each rotated one place further than the last."""
    for round_ in range(rounds):
        shift = round_ % len(items) if items else 0
        yield [*items[shift:], *items[:shift]]


def measure(commands: Sequence[Command], runs: int, warmup: int, scratch: Scratch, *, rss_runs: int = 3,
            rss_via: Optional[str] = None, progress: bool = False) -> Dict[str, Outcome]:
    """Warm-up rounds, ``runs`` timed rounds, then ``rss_runs`` rounds through ``rss_via`` (GNU time).

    A command that fails (exit status, or not the expected output) is reported and dropped.
    """
    outcomes = {command.key: Outcome(skip=command.skip) for command in commands}
    live = [command for command in commands if command.skip is None]
    phases: List[Tuple[str, int, Optional[str]]] = [("warm-up", warmup, None), ("timed", runs, None)]
    if rss_via is not None:
        phases.append(("rss", rss_runs, rss_via))
    for phase, rounds, via in phases:
        for order in rotations(live, rounds):
            for command in order:
                outcome = outcomes[command.key]
                if outcome.failure is not None:
                    continue
                sample = run_once(command, scratch, via)
                if sample.failure is not None:
                    outcome.failure = sample.failure
                    print(f"\nbenchmarks: {command.label}: {sample.failure}", file=sys.stderr)
                elif phase == "timed":
                    outcome.seconds.append(sample.seconds)
                elif phase == "rss" and sample.rss_kib is not None:
                    outcome.rss_kib.append(sample.rss_kib)
            if progress:
                print(".", end="", file=sys.stderr, flush=True)
    scratch.clean()
    if progress:
        print(file=sys.stderr)
    return outcomes


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def quantile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile (``statistics.quantiles`` needs two points; one is enough here)."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
