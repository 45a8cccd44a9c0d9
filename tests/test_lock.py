"""Runs that alter ``sys`` take turns; ``lock_timeout`` turns a long wait into LockTimeout."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, Set

import pytest

import zrun
from conftest import write_zip

APP = {"__main__.py": "import sys\nARGV = list(sys.argv)\n", "lock_mod.py": "import sys\nARGV = list(sys.argv)\n"}

CALLS: Dict[str, Callable[[Path, Any], Any]] = {
    "run": lambda archive, timeout: zrun.run(f"{archive}:lock_mod", ["x"], lock_timeout=timeout),
    "run path target": lambda archive, timeout: zrun.run(str(archive), lock_timeout=timeout),
    "run_module": lambda archive, timeout: zrun.run_module("lock_mod", alter_sys=True, sources=[archive], lock_timeout=timeout),
    "run_path": lambda archive, timeout: zrun.run_path(archive, lock_timeout=timeout),
}


def _modules() -> Set[str]:
    """``sys.modules`` but zrun's own, which load lazily on first use."""
    return {name for name in sys.modules if name.partition(".")[0] != "zrun"}


@pytest.fixture
def held() -> Iterator[threading.Event]:
    """Another thread holds zrun's sys lock until the returned event is set."""
    taken, release = threading.Event(), threading.Event()

    def hold() -> None:
        with zrun.SYS_LOCK:
            taken.set()
            release.wait(30)

    thread = threading.Thread(target=hold)
    thread.start()
    assert taken.wait(10)
    yield release
    release.set()
    thread.join(10)


@pytest.mark.parametrize("call", sorted(CALLS))
def test_timeout_while_another_thread_runs(call: str, tmp_path: Path, held: threading.Event) -> None:
    archive = write_zip(tmp_path / "app.zip", APP)
    argv, path, modules = list(sys.argv), list(sys.path), _modules()
    with pytest.raises(zrun.LockTimeout, match=r"could not run .* within 0\.2 s") as info:
        CALLS[call](archive, 0.2)
    assert isinstance(info.value, TimeoutError)
    assert (sys.argv, sys.path, _modules()) == (argv, path, modules)


@pytest.mark.parametrize("call", sorted(CALLS))
def test_waits_for_the_holder_to_finish(call: str, tmp_path: Path, held: threading.Event) -> None:
    archive = write_zip(tmp_path / "app.zip", APP)
    timer = threading.Timer(0.2, held.set)
    timer.start()
    namespace = CALLS[call](archive, 30)
    timer.join()
    assert namespace["ARGV"][0].startswith(str(archive))


def test_same_thread_nests_freely(tmp_path: Path) -> None:
    """The lock is reentrant: code run by zrun may itself run code with a zero timeout."""
    archive = write_zip(tmp_path / "app.zip", APP)
    with zrun.SYS_LOCK:
        assert zrun.run(f"{archive}:lock_mod", lock_timeout=0)["ARGV"][0] == f"{archive}/lock_mod.py"
