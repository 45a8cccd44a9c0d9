"""The host's parallel mode: every plugin in an isolated worker, all at once, each timed.

    python host.py /tmp/plugins --parallel process        # spawned processes, every Python
    python host.py /tmp/plugins --parallel interpreter    # sub-interpreters, Python 3.14+

Besides the plugin archives of the folder, the ``hazards/`` plugins run too:
``patcher`` patches ``json.dumps``, the environment, the recursion limit,
``atexit`` and starts a thread; ``segfault`` crashes its interpreter. They
are read from disk into ``zrun.MemorySource`` objects, which reach the
workers as bytes. A segfault ends the process it happens in, so with
sub-interpreters (one process) it is left out: only process workers contain it.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Dict, List, Tuple

import zrun
from zrun import Runnable

HAZARDS = Path(__file__).resolve().parent / "hazards"
GROUP = "plugin_host.plugins"
LEVELS = {"process": zrun.ProcessWorker, "interpreter": zrun.InterpreterWorker}


def hazards(level: str) -> Dict[str, zrun.MemorySource]:
    """The hazard plugins as memory sources (``segfault`` only where a crash stays in its worker)."""
    found = {}
    for folder in sorted(path for path in HAZARDS.iterdir() if path.is_dir()):
        if folder.name == "segfault" and level != "process":
            print(f"{folder.name}: skipped, a crash in a sub-interpreter ends the whole host process")
            continue
        files = {path.relative_to(folder).as_posix(): path.read_bytes() for path in folder.rglob("*.py")}
        found[folder.name] = zrun.MemorySource(files, name=folder.name)
    return found


def outcome(future: Future[Any]) -> Tuple[str, str]:
    """``(status, detail)`` of a finished task, as the in-process host reports them."""
    try:
        result = future.result()
    except SystemExit as exc:
        return "exit", str(exc.code)
    except zrun.WorkerDied as exc:
        return "crashed", str(exc)
    except Exception as exc:
        return "error", f"{type(exc).__name__}: {exc}"
    return "ok", "ran" if result is None else str(result)


def run_parallel(folder: str, level: str, size: int = 4, timeout: float = 60) -> bool:
    """Run every plugin entry at once in isolated workers; True if the host came through intact."""
    before = (json.dumps, dict(os.environ), sys.getrecursionlimit(), threading.active_count())
    entries: List[Runnable] = [
        entry for entry in zrun.discover(folder, on_error=lambda *_: None) if entry.kind == "main" or entry.group == GROUP
    ]
    started = time.perf_counter()
    tasks: List[Tuple[str, str, Future[Any], List[float]]] = []
    with zrun.Workers(worker=LEVELS[level], size=size, timeout=timeout) as pool:
        pool.start()
        print(f"started {size} {level} workers in {(time.perf_counter() - started) * 1e3:.0f} ms")

        def track(plugin: str, entry: str, future: Future[Any]) -> None:
            clock = [time.perf_counter()]
            future.add_done_callback(lambda _: clock.append(time.perf_counter()))
            tasks.append((plugin, entry, future, clock))

        for entry in entries:
            plugin = os.path.basename(entry.archive)
            if entry.kind == "main":
                track(plugin, entry.name, pool.submit_run(entry.target))
            else:
                track(plugin, f"{entry.group}:{entry.name}", pool.submit_call(entry.target, ("plugin_host",)))
        for name, source in hazards(level).items():
            track(name, "__main__", pool.submit_run("__main__", sources=[source]))
        for plugin, entry, future, clock in tasks:
            status, detail = outcome(future)
            print(f"{plugin}: {entry} -> {status}: {detail}  [{(clock[-1] - clock[0]) * 1e3:.0f} ms]", flush=True)
    wall = time.perf_counter() - started
    after = (json.dumps, dict(os.environ), sys.getrecursionlimit(), threading.active_count())
    intact = after == before and json.dumps({}) == "{}"
    print(f"{len(tasks)} plugins in {level} workers ({size} at a time): {wall * 1e3:.0f} ms wall")
    print(f"host json, environment, recursion limit and threads intact: {intact}")
    return intact
