"""Isolated runs and scopes next to busy host threads: nobody else's imports or sys.path entries vanish.

Real threads, each bounded by a timeout; the assertions are counts over
hundreds of imports, as the review that found the bug measured them.
"""

from __future__ import annotations

import importlib
import sys
import threading
import time
from importlib.machinery import PathFinder
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List

import pytest

import zrun
from conftest import sys_lock_is_free, write_tree, write_zip

IMPORTS = 500
RUNNERS = 8
TIMEOUT = 60.0

PLUGIN = {
    "thr_plugin/__init__.py": "import thr_helper\nVALUE = thr_helper.VALUE\n",
    "thr_plugin/work.py": "import sys, thr_helper, thr_plugin\nsys.path.append('/thr/plugin/own')\nRESULT = thr_plugin.VALUE\n",
    "thr_helper.py": "VALUE = 42\n",
}


@pytest.fixture
def fresh_modules(tmp_path: Path, clean_sys: Any) -> Iterator[List[str]]:
    """A folder on sys.path with IMPORTS modules nobody has imported yet; each import takes a moment."""
    folder = write_tree(tmp_path / "host_mods", {f"thr_fresh_{i}.py": "import time\ntime.sleep(0.0005)\nX = 1\n" for i in range(IMPORTS)})
    sys.path.append(str(folder))
    names = [f"thr_fresh_{i}" for i in range(IMPORTS)]
    yield names
    for name in names:
        sys.modules.pop(name, None)
    sys.path.remove(str(folder))
    # The host thread's import in flight as a scope exits walks the sys.path it fetched, with the
    # scope's folder in it, and may cache a finder for that folder: its entry, not the scope's.
    for key in [key for key in sys.path_importer_cache if key.startswith(str(tmp_path))]:
        del sys.path_importer_cache[key]


def hammer(work: Callable[[], Any], host: Callable[[], None]) -> List[BaseException]:
    """RUNNERS threads repeat ``work`` until ``host`` (in its own thread) is done; their errors."""
    done = threading.Event()
    errors: List[BaseException] = []

    def runner() -> None:
        while not done.is_set():
            try:
                work()
            except BaseException as exc:  # counted, and the test fails on them
                errors.append(exc)
                return

    def host_thread() -> None:
        try:
            host()
        finally:
            done.set()

    threads = [threading.Thread(target=runner, daemon=True) for _ in range(RUNNERS)]
    importer = threading.Thread(target=host_thread, daemon=True)
    for thread in threads:
        thread.start()
    importer.start()
    importer.join(TIMEOUT)
    done.set()
    for thread in threads:
        thread.join(TIMEOUT)
    assert not importer.is_alive() and not any(thread.is_alive() for thread in threads), "threads did not finish in time"
    return errors


def import_all(names: List[str], failures: Dict[str, BaseException]) -> Callable[[], None]:
    def host() -> None:
        for name in names:
            try:
                importlib.import_module(name)
            except BaseException as exc:
                failures[name] = exc

    return host


def test_isolated_runs_keep_other_threads_imports(tmp_path: Path, fresh_modules: List[str]) -> None:
    archive = write_zip(tmp_path / "plugin.zip", PLUGIN)
    failures: Dict[str, BaseException] = {}
    path, before = sys.path, list(sys.path)

    def work() -> None:
        assert zrun.run(f"{archive}:thr_plugin.work", isolate=True)["RESULT"] == 42

    errors = hammer(work, import_all(fresh_modules, failures))
    assert {name: repr(exc) for name, exc in failures.items()} == {}, f"{len(failures)} of {IMPORTS} imports failed"
    vanished = [name for name in fresh_modules if name not in sys.modules]
    assert vanished == [], f"{len(vanished)} of {IMPORTS} modules vanished"
    assert errors == []
    assert not [name for name in sys.modules if name.startswith(("thr_plugin", "thr_helper"))]
    assert sys.path is path and sys.path == before and sys_lock_is_free()


@pytest.mark.parametrize("isolate", [True, False])
def test_leaving_scopes_keeps_other_threads_imports(make_tree: Any, fresh_modules: List[str], isolate: bool) -> None:
    tree = make_tree(PLUGIN)
    failures: Dict[str, BaseException] = {}

    def work() -> None:
        scope = zrun.Scope(tree.sources, isolate=isolate)
        with scope:
            assert scope.import_module("thr_plugin.work").RESULT == 42
        theirs = [name for name in scope.modules if name.startswith("thr_fresh_")]
        assert theirs == [], "another thread's imports counted as the plugin's"

    errors = hammer(work, import_all(fresh_modules, failures))
    assert {name: repr(exc) for name, exc in failures.items()} == {}, f"{len(failures)} of {IMPORTS} imports failed"
    vanished = [name for name in fresh_modules if name not in sys.modules]
    assert vanished == [], f"{len(vanished)} of {IMPORTS} modules vanished"
    assert errors == []


def test_runs_keep_other_threads_sys_path_changes(tmp_path: Path, clean_sys: Any) -> None:
    archive = write_zip(tmp_path / "plugin.zip", PLUGIN)
    path, before = sys.path, list(sys.path)
    added = [f"/thr/host/{i}" for i in range(300)]

    def work() -> None:
        zrun.run(f"{archive}:thr_plugin.work", isolate=True)

    def host() -> None:
        for entry in added:
            sys.path.append(entry)
            time.sleep(0.0002)
        sys.path.insert(0, "/thr/host/front")
        sys.path.remove(added[0])

    try:
        assert hammer(work, host) == []
        assert sys.path is path
        assert sys.path == ["/thr/host/front", *before, *added[1:]]  # theirs kept, in order; the plugin's gone
    finally:
        sys.path[:] = before


def test_an_import_in_progress_when_a_run_starts_survives_it(tmp_path: Path, clean_sys: Any) -> None:
    """Another thread is inside a module's body when the isolated run takes its snapshot."""
    folder = write_tree(tmp_path / "slow", {"thr_slow.py": "import thr_gate\nthr_gate.started.set()\nthr_gate.go.wait(10)\nDONE = True\n"})
    archive = write_zip(tmp_path / "plugin.zip", PLUGIN)
    gate = type(sys)("thr_gate")
    gate.started, gate.go = threading.Event(), threading.Event()  # type: ignore[attr-defined]
    sys.modules["thr_gate"] = gate
    sys.path.append(str(folder))
    outcome: List[Any] = []

    def importer() -> None:
        try:
            outcome.append(importlib.import_module("thr_slow").DONE)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=importer, daemon=True)
    thread.start()
    assert gate.started.wait(TIMEOUT)  # type: ignore[attr-defined]
    state = zrun.SysState(modules=True)
    with state:
        gate.go.set()  # type: ignore[attr-defined]
        thread.join(TIMEOUT)
        zrun.run(f"{archive}:thr_plugin.work", isolate=True)
    assert not thread.is_alive() and outcome == [True]
    assert "thr_slow" in sys.modules and sys.modules["thr_slow"].DONE is True
    assert state.diff() == []  # theirs, not a difference
    del sys.modules["thr_slow"], sys.modules["thr_gate"]
    sys.path.remove(str(folder))
    sys.path_importer_cache.pop(str(folder), None)


def test_nested_runs_keep_other_threads_sys_path_changes(tmp_path: Path, clean_sys: Any) -> None:
    """A run inside a run: the inner restore keeps what another thread added meanwhile, and so does the outer."""
    inner_code = "import sys, thr_sync\nsys.path.append('/thr/inner/own')\nthr_sync.step()\n"
    outer_code = "import sys, zrun\nsys.path.append('/thr/outer/own')\nzrun.run(sys.argv[1] + ':thr_inner')\n"
    inner = write_zip(tmp_path / "inner.zip", {"thr_inner.py": inner_code})
    outer = write_zip(tmp_path / "outer.zip", {"thr_outer.py": outer_code})
    path, before = sys.path, list(sys.path)
    sync = type(sys)("thr_sync")

    def step() -> None:  # another thread appends while the inner run is in progress
        thread = threading.Thread(target=lambda: sys.path.append("/thr/other"))
        thread.start()
        thread.join(TIMEOUT)

    sync.step = step  # type: ignore[attr-defined]
    sys.modules["thr_sync"] = sync
    try:
        zrun.run(f"{outer}:thr_outer", [str(inner)], isolate=True)
        assert sys.path is path and sys.path == [*before, "/thr/other"]
    finally:
        sys.path[:] = before
        del sys.modules["thr_sync"]


def _is_file_finder_hook(hook: Any) -> bool:
    return "FileFinder.path_hook" in getattr(hook, "__qualname__", "")


@pytest.mark.parametrize(("listing", "wanted"), [("meta_path", lambda item: item is PathFinder), ("path_hooks", _is_file_finder_hook)])
def test_a_thread_walking_the_import_lists_during_a_run_reaches_every_entry(
    tmp_path: Path, clean_sys: Any, listing: str, wanted: Callable[[Any], bool]
) -> None:
    """The import system walks sys.meta_path and sys.path_hooks for every import. A walk that began
    during a run, stopped just before PathFinder (the stdlib's directory hook), goes on after the
    run's restore: its next item must still be that one, not the one after it (a skip is a
    ModuleNotFoundError, or ``None`` cached as a sys.path entry's finder)."""
    archive = write_zip(tmp_path / "plugin.zip", {"thr_walked.py": "import thr_walker\nthr_walker.begin()\n"})
    ready, go, seen = threading.Event(), threading.Event(), []

    def walk() -> None:
        items = getattr(sys, listing)
        walker = iter(items)
        for _ in range(next(index for index, item in enumerate(items) if wanted(item))):
            next(walker)
        ready.set()
        go.wait(TIMEOUT)
        seen.append(next(walker, None))

    thread = threading.Thread(target=walk, daemon=True)
    probe = type(sys)("thr_walker")
    probe.begin = lambda: (thread.start(), ready.wait(TIMEOUT))  # type: ignore[attr-defined]
    sys.modules["thr_walker"] = probe
    try:
        zrun.run(f"{archive}:thr_walked", isolate=True)
        go.set()
        thread.join(TIMEOUT)
        assert not thread.is_alive() and len(seen) == 1 and wanted(seen[0]), seen
    finally:
        go.set()
        del sys.modules["thr_walker"]
