"""Process workers only: crashes, timeouts that kill a process group, OS limits, replacement."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Iterator

import pytest

import zrun
from workers_plugin import FILES

LEAKY = zrun.MemorySource(FILES, name="leaky")
POSIX = hasattr(os, "killpg")
pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def pool() -> Iterator[zrun.Workers]:
    with zrun.Workers(LEAKY, size=1, timeout=60) as workers:
        yield workers


def gone(pid: int) -> bool:
    """The process has ended (a zombie counts: it runs no more code)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as stream:
            return stream.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False


def wait_gone(pid: int, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while not gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_os_exit_is_reported_and_the_worker_replaced(pool: zrun.Workers) -> None:
    first = pool.call("leaky:pid")
    replaced = pool.replaced
    with pytest.raises(zrun.WorkerDied, match=r"died while running 'leaky:exit_hard' \(exit status 7\)") as caught:
        pool.call("leaky:exit_hard", 7)
    assert caught.value.exitcode == 7
    assert isinstance(caught.value, zrun.ZrunError)
    second = pool.call("leaky:pid")
    assert second != first and pool.replaced == replaced + 1
    assert pool.workers == [second]


@pytest.mark.skipif(not POSIX, reason="signals")
def test_segfault_is_reported(pool: zrun.Workers) -> None:
    with pytest.raises(zrun.WorkerDied, match="killed by SIGSEGV") as caught:
        pool.call("leaky:segfault")
    assert caught.value.exitcode == -signal.SIGSEGV
    assert pool.call("leaky:echo", 1) == {"args": [1], "kwargs": {}}


@pytest.mark.skipif(not POSIX, reason="process groups")
def test_timeout_kills_the_worker_and_its_children(pool: zrun.Workers, tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    worker = pool.call("leaky:pid")
    started = time.monotonic()
    with pytest.raises(zrun.WorkerTimeout, match="timeout") as caught:
        pool.submit_call("leaky:hang_with_child", (str(pidfile),), timeout=2).result()
    assert isinstance(caught.value, TimeoutError)
    assert time.monotonic() - started < 30
    child = int(pidfile.read_text())
    assert wait_gone(worker) and wait_gone(child)
    assert pool.call("leaky:pid") != worker


@pytest.mark.skipif(not POSIX, reason="resource limits")
def test_memory_limit_applies(tmp_path: Path) -> None:
    import resource

    before = resource.getrlimit(resource.RLIMIT_AS)
    with zrun.Workers(LEAKY, size=1, limits=zrun.Limits(memory=1 << 30), timeout=60) as limited:
        assert limited.call("leaky:allocate", 16) == 16 << 20
        with pytest.raises(MemoryError):
            limited.call("leaky:allocate", 2048)
        assert limited.call("leaky:allocate", 16) == 16 << 20  # the worker survives its MemoryError
    assert resource.getrlimit(resource.RLIMIT_AS) == before


@pytest.mark.skipif(not POSIX, reason="resource limits")
def test_open_file_limit_applies(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_text("x")
    with zrun.Workers(LEAKY, size=1, limits=zrun.Limits(files=40), timeout=60) as limited:
        error, opened = limited.call("leaky:open_many", str(path), 100)
    assert error == 24 and 0 < opened < 40  # EMFILE


@pytest.mark.skipif(not POSIX, reason="resource limits")
def test_cpu_limit_ends_the_task_and_the_worker_is_replaced() -> None:
    with zrun.Workers(LEAKY, size=1, limits=zrun.Limits(cpu=1), timeout=60) as limited:
        first = limited.call("leaky:pid")
        with pytest.raises(zrun.WorkerDied, match="killed by SIGXCPU"):
            limited.call("leaky:spin")
        assert limited.call("leaky:pid") != first


def test_interpreter_workers_refuse_limits() -> None:
    expected = "resource limits apply to the whole process" if zrun.InterpreterWorker.available() else "need CPython 3.14"
    with pytest.raises(zrun.WorkerError, match=expected):
        zrun.Workers(LEAKY, worker=zrun.InterpreterWorker, limits=zrun.Limits(files=10))


@pytest.mark.skipif(zrun.InterpreterWorker.available(), reason="this Python has sub-interpreters")
def test_interpreter_workers_before_3_14_fail_clearly() -> None:
    with pytest.raises(zrun.WorkerError, match=r"sub-interpreter workers need CPython 3\.14\+"):
        zrun.Workers(LEAKY, worker=zrun.InterpreterWorker)


def test_close_ends_every_worker() -> None:
    with zrun.Workers(LEAKY, size=2) as workers:
        workers.start()
        pids = workers.workers
        assert len(pids) == 2 and os.getpid() not in pids
    assert all(wait_gone(pid) for pid in pids)
    assert workers.workers == []


def test_a_task_s_output_survives_a_later_crash_of_its_worker() -> None:
    """The worker's stdout is a pipe here (block-buffered): each task's prints are flushed when it ends."""
    import subprocess
    import sys

    host = Path(__file__).with_name("workers_output_host.py")
    env = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}  # the buffered case
    done = subprocess.run([sys.executable, str(host)], capture_output=True, text=True, timeout=120, cwd=host.parent, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["said before the crash", "host saw: 9"], done.stdout + done.stderr
