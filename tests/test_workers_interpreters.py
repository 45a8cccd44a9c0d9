"""Sub-interpreter workers only (CPython 3.14+): what they cannot contain, and the fallback to processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import pytest

import zrun
from conftest import SRC, write_zip
from workers_plugin import FILES

pytestmark = [
    pytest.mark.skipif(not zrun.InterpreterWorker.available(), reason="concurrent.interpreters needs CPython 3.14+"),
    pytest.mark.timeout(120),
]
LEAKY = zrun.MemorySource(FILES, name="leaky")
TESTS = str(Path(__file__).resolve().parent)
HOST_THAT_CALLS_OS_EXIT = """\
import zrun
from workers_plugin import FILES

with zrun.Workers(zrun.MemorySource(FILES), worker=zrun.InterpreterWorker, size=1) as pool:
    pool.call("leaky:exit_hard", 5)
print("host survived")
"""


def refused_extension() -> Optional[str]:
    """An extension of this Python that sub-interpreters refuse (single-phase init): CPython's test one, else the stdlib's."""
    import importlib.util

    return next((name for name in ("_testsinglephase", "_curses", "readline") if importlib.util.find_spec(name)), None)


REFUSED = refused_extension()


def test_import_zrun_and_run_an_archive_in_a_plain_interpreter(tmp_path: Path) -> None:
    from concurrent import interpreters

    archive = write_zip(tmp_path / "plug.zip", {"plug/__init__.py": "", "plug/main.py": "def main():\n    return 42\n"})
    interp = interpreters.create()
    try:
        interp.prepare_main(path=tuple(sys.path))
        interp.exec("import sys; sys.path[:] = path")
        assert interp.call(zrun.run, f"{archive}:plug.main:main") == 42
    finally:
        interp.close()
    assert "plug" not in sys.modules


@pytest.mark.skipif(REFUSED is None, reason="no single-phase-init extension module installed")
def test_an_extension_refused_by_sub_interpreters_fails_clearly_without_fallback() -> None:
    with zrun.Workers(LEAKY, worker=zrun.InterpreterWorker, size=1, fallback=None) as pool:
        with pytest.raises(zrun.NotIsolatable, match=f"imports {REFUSED}, which cannot load in a sub-interpreter") as caught:
            pool.call("leaky:import_named", REFUSED)
        assert caught.value.name == REFUSED
        assert isinstance(caught.value, ImportError) and isinstance(caught.value, zrun.ZrunError)
        assert "does not support loading in subinterpreters" in str(caught.value.__cause__)
        assert pool.call("leaky:pid") == os.getpid()  # the interpreter worker goes on serving


@pytest.mark.skipif(REFUSED is None, reason="no single-phase-init extension module installed")
def test_an_extension_refused_by_sub_interpreters_falls_back_to_a_process() -> None:
    with zrun.Workers(LEAKY, worker=zrun.InterpreterWorker, size=1) as pool:
        pid = pool.call("leaky:import_named", REFUSED)
    assert pid != os.getpid()


def test_os_exit_in_an_interpreter_ends_the_host() -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([TESTS, SRC]))
    done = subprocess.run([sys.executable, "-c", HOST_THAT_CALLS_OS_EXIT], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 5, done.stderr
    assert "host survived" not in done.stdout


def test_timeout_gives_up_on_the_interpreter_and_replaces_it() -> None:
    with zrun.Workers(LEAKY, worker=zrun.InterpreterWorker, size=1) as pool:
        pool.start()
        first = pool.workers
        started = time.monotonic()
        with pytest.raises(zrun.WorkerTimeout, match="cannot be stopped"):
            pool.submit_call("leaky:sleep", (2.0,), timeout=0.2).result()
        assert time.monotonic() - started < 1.8  # well before the plugin returns
        assert pool.call("leaky:echo", 1) == {"args": [1], "kwargs": {}}
        assert pool.workers != first and pool.replaced == 1
