"""Isolated workers, every level: which of a plugin's leaks each stops, and how results come back.

Each test body runs for process workers (every version) and for
sub-interpreter workers (3.14+; skipped before). The expectations that
differ by level are the rows of the isolation table in docs/plugin-hosts.md.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Iterator, List

import pytest

import zrun
from workers_plugin import FILES
from zrun.workers.task import ship

INTERPRETERS = zrun.InterpreterWorker.available()
LEVELS = [
    pytest.param(zrun.ProcessWorker, id="process"),
    pytest.param(zrun.InterpreterWorker, id="interpreter", marks=pytest.mark.skipif(not INTERPRETERS, reason="needs 3.14+")),
]
LEAKY = zrun.MemorySource(FILES, name="leaky")
pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module", params=LEVELS)
def level(request: pytest.FixtureRequest) -> Any:
    return request.param


@pytest.fixture(scope="module")
def pool(level: Any) -> Iterator[zrun.Workers]:
    """One shared pool per level: tests that leave state behind use pools of their own."""
    with zrun.Workers(LEAKY, worker=level, size=2, timeout=60) as workers:
        yield workers


def is_process(pool: zrun.Workers) -> bool:
    return pool.kind is zrun.ProcessWorker


def test_call_returns_values_from_another_worker(pool: zrun.Workers) -> None:
    assert pool.call("leaky:echo", 1, "two", key=[3]) == {"args": [1, "two"], "kwargs": {"key": [3]}}
    assert (pool.call("leaky:pid") != os.getpid()) is is_process(pool)


def test_every_source_kind_reaches_the_worker(level: Any, make_tree: Any) -> None:
    tree = make_tree({name: text for name, text in FILES.items()})
    with zrun.Workers(tree.sources, worker=level, size=1) as workers:
        info = workers.call("leaky.info:info", "arg")
    assert info == {"name": "leaky.info", "has_file": tree.has_location, "data": "shipped data", "argument": "arg"}


@pytest.mark.parametrize("source_kind", ["zipbytes", "memory", "frozen"])
def test_sources_without_a_file_travel_as_bytes(make_tree: Any) -> None:
    tree = make_tree(FILES)
    _, args = ship(tree.source)
    assert all(isinstance(arg, (bytes, dict)) for arg in args), args
    if isinstance(args[0], dict):
        assert all(isinstance(value, bytes) for value in args[0].values())


def test_run_passes_argv_and_runs_the_main_module(pool: zrun.Workers, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    assert pool.run("leaky", [str(marker)]) is None
    assert marker.read_text() == "ran"
    assert pool.run("leaky:pid") != os.getpid() or not is_process(pool)


def test_exception_comes_back_with_the_plugin_traceback(pool: zrun.Workers) -> None:
    with pytest.raises(ValueError, match="plugin failure") as caught:
        pool.call("leaky:fail")
    cause = caught.value.__cause__
    assert isinstance(cause, zrun.RemoteTraceback)
    assert 'raise ValueError("plugin failure")' in cause.text and ", in fail" in cause.text


def test_exception_of_a_plugin_class_comes_back_as_plugin_error(pool: zrun.Workers) -> None:
    with pytest.raises(zrun.PluginError, match="a class only the plugin has") as caught:
        pool.call("leaky:fail_custom")
    assert caught.value.type_name == "leaky.Custom"
    assert isinstance(caught.value, zrun.ZrunError)


def test_unpicklable_result_is_a_plugin_error(pool: zrun.Workers) -> None:
    with pytest.raises(zrun.PluginError, match="does not pickle"):
        pool.call("leaky:unpicklable")


def test_sys_exit_comes_back_as_system_exit(pool: zrun.Workers) -> None:
    with pytest.raises(SystemExit) as caught:
        pool.call("leaky:quit", 3)
    assert caught.value.code == 3


def test_zrun_errors_keep_their_type(pool: zrun.Workers, tmp_path: Path) -> None:
    with pytest.raises(zrun.NotRunnable, match=r"No module named leaky\.absent"):
        pool.call("leaky.absent:main")
    missing = tmp_path / "missing.zip"
    with pytest.raises(zrun.ArchiveNotFound) as caught:
        pool.run(f"{missing}:plugin")
    assert caught.value.path == str(missing)


def test_patched_stdlib_stays_in_the_worker(level: Any) -> None:
    dumps, fspath = json.dumps, os.fspath
    with zrun.Workers(LEAKY, worker=level, size=1) as pooled:
        assert pooled.call("leaky:patch", "json", "dumps") == "patched"
        assert pooled.call("leaky:patch", "os", "fspath") == "patched"
        assert json.dumps is dumps and os.fspath is fspath
        # os is the worker's own module, which its scope does not drop: the next task sees the patch.
        assert pooled.call("leaky:probe", "os", "fspath") == "patched"
    with zrun.Workers(LEAKY, worker=level, size=1, max_tasks=1) as fresh:
        assert fresh.call("leaky:patch", "os", "fspath") == "patched"
        assert fresh.call("leaky:probe", "os", "fspath") == "intact"


def test_threads_stay_in_the_worker(pool: zrun.Workers) -> None:
    names = pool.call("leaky:start_thread", 0.2)
    assert "plugin-thread" in names
    assert "plugin-thread" not in [thread.name for thread in threading.enumerate()]


def test_daemon_threads_are_refused_in_interpreters_only(pool: zrun.Workers) -> None:
    if is_process(pool):
        assert "plugin-thread" in pool.call("leaky:start_thread", 0.1, True)
    else:
        with pytest.raises(RuntimeError, match="daemon threads are disabled"):
            pool.call("leaky:start_thread", 0.1, True)


def test_atexit_runs_in_the_worker_when_it_ends(level: Any, tmp_path: Path) -> None:
    marker = tmp_path / "atexit"
    before = atexit._ncallbacks()  # type: ignore[attr-defined]
    with zrun.Workers(LEAKY, worker=level, size=1) as workers:
        assert workers.call("leaky:register_atexit", str(marker))
        assert atexit._ncallbacks() == before  # type: ignore[attr-defined]
        assert not marker.exists()
    assert marker.read_text() == "ran"


def test_signal_handlers_never_reach_the_host(pool: zrun.Workers) -> None:
    before = signal.getsignal(signal.SIGUSR1)
    if is_process(pool):
        assert pool.call("leaky:set_signal") is True
    else:
        with pytest.raises(ValueError, match="main interpreter"):
            pool.call("leaky:set_signal")
    assert signal.getsignal(signal.SIGUSR1) is before


def test_environment(pool: zrun.Workers) -> None:
    name = "ZRUN_TEST_WORKER_ENV"
    assert pool.call("leaky:set_environ", name) == "plugin"
    assert name not in os.environ
    command = [sys.executable, "-c", f"import os; print(os.environ.get({name!r}))"]
    child = subprocess.run(command, capture_output=True, text=True, timeout=60)
    os.unsetenv(name)
    # A sub-interpreter has its own os.environ, but its putenv() changes the process's C environment,
    # which children the host starts without env= inherit.
    assert child.stdout.strip() == ("None" if is_process(pool) else "plugin")


def test_recursion_limit(pool: zrun.Workers) -> None:
    limit = sys.getrecursionlimit()
    assert pool.call("leaky:set_recursion_limit", limit + 123) == limit + 123
    assert sys.getrecursionlimit() == limit


def host_descriptors_of(path: Path) -> List[int]:
    """The host's open descriptors on ``path`` (read through /proc, so other threads' files do not count)."""
    found = []
    for name in os.listdir("/proc/self/fd"):
        try:
            if os.path.samefile(os.readlink(f"/proc/self/fd/{name}"), path):
                found.append(int(name))
        except OSError:  # closed meanwhile, or not a file
            pass
    return found


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="reads the host's descriptors in /proc")
def test_file_descriptors(pool: zrun.Workers, tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_text("x")
    fd = pool.call("leaky:open_fd", str(path))
    if is_process(pool):
        assert host_descriptors_of(path) == []
    else:
        assert host_descriptors_of(path) == [fd]  # the plugin's descriptor is the host's too
        os.close(fd)


def test_plugins_run_in_parallel_without_the_sys_lock(pool: zrun.Workers, tmp_path: Path) -> None:
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    with zrun.Scope(zrun.MemorySource({"host_only.py": ""})):  # the host holds SYS_LOCK meanwhile
        first = pool.submit_call("leaky:meet", (a, b, 20))
        second = pool.submit_call("leaky:meet", (b, a, 20))
        assert first.result(timeout=60) is True and second.result(timeout=60) is True


def test_per_task_sources_override_the_pool(pool: zrun.Workers) -> None:
    other = zrun.MemorySource({"other.py": "def name():\n    return 'other plugin'\n"})
    assert pool.submit_call("other:name", sources=[other]).result(timeout=60) == "other plugin"
    with pytest.raises(zrun.NotRunnable):
        pool.call("other:name")


def test_arguments_that_do_not_pickle_fail_in_the_host(pool: zrun.Workers) -> None:
    with pytest.raises(zrun.WorkerError, match="do not pickle"):
        pool.call("leaky:echo", lambda: None)


# The Scope column of the table: the same plugin, in the host, leaks what a scope cannot put back.


@pytest.fixture
def scope() -> Iterator[zrun.Scope]:
    with zrun.Scope(LEAKY) as entered:
        yield entered


def test_scope_lets_stdlib_patches_atexit_signals_environment_and_descriptors_leak(scope: zrun.Scope, tmp_path: Path) -> None:
    dumps, handler, callbacks = json.dumps, signal.getsignal(signal.SIGUSR1), atexit._ncallbacks()  # type: ignore[attr-defined]
    name = "ZRUN_TEST_SCOPE_ENV"
    path = tmp_path / "file"
    path.write_text("x")
    try:
        assert scope.call("leaky:patch", "json", "dumps") == "patched" and json.dumps is not dumps
        scope.call("leaky:register_atexit", str(tmp_path / "atexit"))
        assert atexit._ncallbacks() == callbacks + 1  # type: ignore[attr-defined]
        scope.call("leaky:set_signal")
        assert signal.getsignal(signal.SIGUSR1) is not handler
        scope.call("leaky:set_environ", name)
        assert os.environ[name] == "plugin"
        fd = scope.call("leaky:open_fd", str(path))
        if os.path.isdir("/proc/self/fd"):
            assert host_descriptors_of(path) == [fd]
        os.close(fd)
    finally:
        json.dumps = dumps
        atexit.unregister(scope.import_module("leaky")._touch)
        signal.signal(signal.SIGUSR1, handler)
        os.environ.pop(name, None)


def test_scope_restores_the_recursion_limit_and_leaves_threads_running() -> None:
    limit = sys.getrecursionlimit()
    with zrun.Scope(LEAKY) as scope:
        scope.call("leaky:set_recursion_limit", limit + 7)
        names = scope.call("leaky:start_thread", 0.2)
    assert sys.getrecursionlimit() == limit
    assert "plugin-thread" in names and "plugin-thread" in [thread.name for thread in threading.enumerate()]


def test_workers_get_the_host_sys_path_as_it_is_when_they_start(level: Any, tmp_path: Path) -> None:
    (tmp_path / "host_side_module.py").write_text("")
    sys.path.insert(0, str(tmp_path))
    try:
        with zrun.Workers(LEAKY, worker=level, size=1) as workers:
            assert isinstance(workers.call("leaky:import_named", "host_side_module"), int)
    finally:
        sys.path.remove(str(tmp_path))
