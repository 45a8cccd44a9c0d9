"""Faults injected at every step of a run: ``sys`` is as before, whatever was raised where.

``KeyboardInterrupt``, ``MemoryError`` and ``OSError`` are raised (by
monkeypatching) the first time a run reaches a step: finding a module,
indexing the archive, reading a member, compiling, setting up ``sys``,
inside the running code, and inside the restore itself. Each must come out
of the run unchanged (``OSError`` may come out as an ``ArchiveError`` naming
the archive), leave the ``sys`` lock free and leave ``sys`` as it was.
Writing the cache is a step too: an interrupted write leaves no half-written
file, and an ``OSError`` there only makes the run uncached.
"""

from __future__ import annotations

import errno
import sys
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest

import zrun
import zrun.engine.run
import zrun.engine.runpy_api
import zrun.loading.bytecode
import zrun.loading.finders
import zrun.loading.loader
import zrun.loading.moduleloader
import zrun.zip.archive
import zrun.zip.files
from conftest import sys_lock_is_free, write_zip
from zrun.engine.sysstate import SysState
from zrun.errors import ArchiveError
from zrun.zip.archive import Archive, clear_cache

PACKAGE = {
    "__main__.py": "import pkg.mod\n",
    "pkg/__init__.py": "",
    "pkg/helper.py": "WORD = 'helper'\n",
    "pkg/mod.py": (
        "import sys\n"
        "sys.argv.append('changed by the run')\n"
        "sys.path.insert(0, '/changed/by/the/run')\n"
        "from . import helper\n"
        "FAULT = getattr(sys, '_zrun_fault', None)\n"
        "if FAULT is not None:\n"
        "    raise FAULT\n"
    ),
}

FAULTS: Dict[str, Callable[[], BaseException]] = {
    "KeyboardInterrupt": KeyboardInterrupt,
    "MemoryError": MemoryError,
    "OSError": lambda: OSError(errno.EIO, "injected I/O error"),
}


def _fire_once(
    monkeypatch: pytest.MonkeyPatch, owners: Any, name: str, fault: BaseException, when: Callable[..., bool] = lambda *a: True
) -> List[bool]:
    """Replace ``owner.name`` (in each of ``owners``) by a wrapper raising ``fault`` the first time ``when(*args)`` holds."""
    fired: List[bool] = []
    for owner in owners if isinstance(owners, tuple) else (owners,):
        original = getattr(owner, name)

        def wrapper(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
            if not fired and when(*args):
                fired.append(True)
                raise fault
            return _original(*args, **kwargs)

        monkeypatch.setattr(owner, name, wrapper)
    return fired


def _compilers() -> Tuple[Any, ...]:
    """Where ``compile_source`` is looked up: its own module, and the loader if it imports the name."""
    return tuple(owner for owner in (zrun.loading.bytecode, zrun.loading.moduleloader) if hasattr(owner, "compile_source"))


def _in_user_code(monkeypatch: pytest.MonkeyPatch, fault: BaseException) -> List[bool]:
    """The running module itself raises, after it changed sys and imported a sibling."""
    import sys

    monkeypatch.setattr(sys, "_zrun_fault", fault, raising=False)
    return [True]


# step -> how to inject; whether the code had started when it fires (imported modules may then stay).
STEPS: Dict[str, Tuple[Callable[[pytest.MonkeyPatch, BaseException], List[bool]], bool]] = {
    "open the location": (lambda mp, f: _fire_once(mp, (zrun.engine.run, zrun.engine.runpy_api), "open_location", f), False),
    "index the archive": (lambda mp, f: _fire_once(mp, zrun.zip.files, "read_index", f), False),
    "find a module": (lambda mp, f: _fire_once(mp, zrun.loading.finders, "find_in", f), False),
    "find the package's module": (
        lambda mp, f: _fire_once(mp, zrun.loading.finders, "find_in", f, lambda src, name, base: "." in name),
        False,
    ),
    "read the target's member": (lambda mp, f: _fire_once(mp, Archive, "read", f, lambda self, name: name.endswith("mod.py")), False),
    "compile the target": (lambda mp, f: _fire_once(mp, _compilers(), "compile_source", f), False),
    "load the target": (lambda mp, f: _fire_once(mp, zrun.loading.loader.ModuleLoader, "get_code", f), False),
    "put the sources first": (lambda mp, f: _fire_once(mp, zrun.engine.run.Run, "search", f), False),
    "set sys.argv": (lambda mp, f: _fire_once(mp, zrun.engine.run.Run, "set_argv", f), False),
    "make the main module": (lambda mp, f: _fire_once(mp, zrun.engine.run.Run, "new_module", f), False),
    "read a member the code imports": (lambda mp, f: _fire_once(mp, Archive, "read", f, lambda _, name: name.endswith("helper.py")), True),
    "inside the running code": (_in_user_code, True),
    "restore sys.modules": (lambda mp, f: _fire_once(mp, SysState, "_module_names", f), True),
}


def _entry_points(archive: Path) -> Dict[str, Callable[[], Any]]:
    return {
        "run location:module": lambda: zrun.run(f"{archive}:pkg.mod"),
        "run with sources": lambda: zrun.run("pkg.mod", sources=[str(archive)]),
        "run_module alter_sys": lambda: zrun.run_module("pkg.mod", sources=[str(archive)], alter_sys=True),
        "run_path": lambda: zrun.run_path(str(archive)),
    }


ENTRY_POINTS = list(_entry_points(Path("x")))


def _outcome(call: Callable[[], Any]) -> Optional[BaseException]:
    try:
        call()
    except BaseException as exc:
        return exc
    return None


@pytest.fixture(autouse=True)
def _fresh_index() -> Iterator[None]:
    clear_cache()
    yield
    clear_cache()


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("step", list(STEPS))
def test_fault(step: str, fault: str, entry: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = write_zip(tmp_path / "app.zip", PACKAGE)
    inject, started = STEPS[step]
    error = FAULTS[fault]()
    everything = SysState(modules=True)
    try:
        fired = inject(monkeypatch, error)
        raised = _outcome(_entry_points(archive)[entry])
        monkeypatch.undo()
        if not fired:
            pytest.skip(f"{entry} does not reach this step")
        assert raised is not None, "the fault was swallowed"
        if isinstance(error, OSError) and isinstance(raised, ArchiveError):
            assert str(archive) in str(raised)  # wrapped, naming the archive: as good as the raw one
        else:
            assert raised is error, f"{type(raised).__name__}: {raised}"
        assert sys_lock_is_free(), "the sys lock is still held"
        left = everything.diff()
        if started or not entry.startswith("run "):
            # python -m leaves what the code imported, and so does zrun.run() without isolate;
            # run_module and run_path leave the parent packages they import, as runpy does.
            # (run_path's __main__ imports pkg.mod; for run_module pkg.mod is the temporary run_name.)
            kept = {"pkg", "pkg.helper", "pkg.mod"} if entry == "run_path" else {"pkg", "pkg.helper"}
            left = [line for line in left if line not in {f"sys.modules[{name!r}] added" for name in kept}]
        assert left == [], "sys changed"
    finally:
        monkeypatch.undo()
        everything.restore()


@pytest.mark.parametrize("fault", list(FAULTS))
def test_fault_with_isolate_leaves_no_module(fault: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With ``isolate=True`` even a run that fails inside its code leaves sys.modules exactly as it was."""
    archive = write_zip(tmp_path / "app.zip", PACKAGE)
    error = FAULTS[fault]()
    everything = SysState(modules=True)
    try:
        _in_user_code(monkeypatch, error)
        with pytest.raises(type(error)):
            zrun.run(f"{archive}:pkg.mod", isolate=True)
        monkeypatch.undo()
        assert everything.diff() == []
    finally:
        everything.restore()


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("part", ["argv", "meta_path", "importer cache", "environ"])
def test_fault_in_one_restore_part_restores_the_others(
    part: str, fault: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A part of the restore that fails stays changed; every other part is still put back, and the error comes out."""
    import os
    import sys

    error = FAULTS[fault]()
    everything = SysState(modules=True, environ=True, cwd=True)
    try:
        state = SysState(modules=True, environ=True, cwd=True)
        sys.argv.append("changed")
        sys.path.insert(0, "/changed")
        sys.meta_path.append(zrun.loading.loader.SearchFirst([]))
        sys.path_importer_cache["/changed"] = None
        sys.modules["zrun_fault_probe"] = sys
        os.environ["ZRUN_FAULT_PROBE"] = "1"
        os.chdir(tmp_path)
        if part == "importer cache":
            _fire_once(monkeypatch, SysState, "_restore_importer_cache", error)
        elif part == "environ":
            _fire_once(monkeypatch, SysState, "_restore_environ", error)
        else:
            _fire_once(monkeypatch, SysState, "_restore_list", error, lambda self, name: name == part)
        assert _outcome(state.restore) is error
        monkeypatch.undo()
        expected = {
            "argv": [line for line in everything.diff() if line.startswith("sys.argv")],
            "meta_path": [line for line in everything.diff() if line.startswith("sys.meta_path")],
            "importer cache": ["sys.path_importer_cache gained ['/changed']"],
            "environ": ["os.environ changed"],
        }[part]
        assert expected and everything.diff() == expected
    finally:
        everything.restore()


CACHE_WRITES: Dict[str, Callable[..., bool]] = {
    "the cache tag": lambda fd, data: bytes(data[:10]) == b"Signature:",
    "a code pack": lambda fd, data: bytes(data[:4]) == b"ZRP1",  # written at exit: packwrite.flush() below
}


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("what", list(CACHE_WRITES))
def test_fault_while_writing_the_cache(what: str, fault: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Interrupted mid-write, the cache holds no half-written file; an I/O error there only means an uncached run."""
    import zrun.cache.packwrite
    import zrun.cache.store

    archive = write_zip(tmp_path / "app.zip", PACKAGE)
    root = tmp_path / "cache"
    everything = SysState(modules=True)  # before the monkeypatching, which is undone before the diff
    monkeypatch.setenv("ZRUN_CACHE_DIR", str(root))
    monkeypatch.setenv("ZRUN_NO_CACHE", "")
    monkeypatch.setattr(sys, "dont_write_bytecode", False)  # the cache writes code only then
    zrun.cache.store.reset()
    error = FAULTS[fault]()
    try:
        fired = _fire_once(monkeypatch, zrun.cache.store, "write_all", error, CACHE_WRITES[what])
        raised = _outcome(lambda: (zrun.run(f"{archive}:pkg.mod", isolate=True), zrun.cache.packwrite.flush()))
        monkeypatch.undo()
        assert fired, "the run wrote nothing to the cache"
        if isinstance(error, OSError):
            assert raised is None, f"{type(raised).__name__}: {raised}"
        else:
            assert raised is error
        assert everything.diff() == []
        leftovers = [path for path in root.rglob("*") if path.is_file() and path.name.endswith(".tmp")]
        assert leftovers == [], "a half-written cache file was left behind"
    finally:
        everything.restore()
        zrun.cache.store.reset()


# --- I/O errors where they really happen: the reads of the archive file ----------------------------


def _failing_reader(monkeypatch: pytest.MonkeyPatch, after: int) -> None:
    """Every read of an archive file after the first ``after`` fails with EIO, as a dying disk does."""
    original = zrun.zip.files.reader
    calls = [0]

    def reader(stream: Any) -> Callable[[int, int], bytes]:
        fetch = original(stream)

        def failing(pos: int, n: int) -> bytes:
            calls[0] += 1
            if calls[0] > after:
                raise OSError(errno.EIO, "Input/output error")
            return fetch(pos, n)

        return failing

    for owner in (zrun.zip.files, zrun.zip.archive):  # the index is read through one, members through the other
        monkeypatch.setattr(owner, "reader", reader)


@pytest.mark.parametrize(
    "after",
    [
        pytest.param(0, id="while indexing"),
        pytest.param(1, id="while reading a member"),
    ],
)
def test_io_error_is_an_archive_error(after: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = write_zip(tmp_path / "app.zip", PACKAGE)
    everything = SysState(modules=True)
    try:
        _failing_reader(monkeypatch, after)
        with pytest.raises(ArchiveError) as info:
            zrun.run(f"{archive}:pkg.mod")
        assert str(archive) in str(info.value)
        assert "Input/output error" in str(info.value)
        monkeypatch.undo()
        assert everything.diff() == []
    finally:
        everything.restore()
