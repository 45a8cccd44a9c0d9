"""The pieces a run is made of (zrun.engine.pieces): each undoes its own change, whichever way its body ends.

Real exceptions through real ``sys``; then the entry points composed of the
pieces, over every source kind, leave ``sys`` as it was.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any, Callable, Dict, Type

import pytest

import zrun
from conftest import Launcher, expect_ok, write_zip
from zrun.engine.pieces import Argv, HiddenModules, MainModule, Path0, SourcesFirst, SpawnPatch
from zrun.engine.steps import Pieces
from zrun.loading.loader import SearchFirst, path_hook

ENDINGS: Dict[str, Type[BaseException]] = {
    "exception": ValueError,
    "systemexit": SystemExit,
    "keyboardinterrupt": KeyboardInterrupt,
}


@pytest.fixture(params=sorted(ENDINGS))
def ending(request: pytest.FixtureRequest) -> Type[BaseException]:
    return ENDINGS[str(request.param)]


def test_sources_first_undone(tmp_path: Path, ending: Type[BaseException]) -> None:
    """The finder, the path hook and the forgotten importer-cache entries all come back as they were."""
    folder = tmp_path / "tree"
    (folder / "pkg").mkdir(parents=True)
    source = zrun.MemorySource({"pkg/__init__.py": ""})
    stale_key, stale_finder = f"{source.root}/pkg", object()  # an earlier import's finder inside the source
    sys.path_importer_cache[stale_key] = stale_finder  # type: ignore[assignment]
    meta_path, path_hooks = list(sys.meta_path), list(sys.path_hooks)
    try:
        with pytest.raises(ending):
            with SourcesFirst([str(folder), source]) as finder:
                assert isinstance(finder, SearchFirst) and finder.entries == [str(folder), source]
                assert finder in sys.meta_path and not any(isinstance(item, SearchFirst) for item in meta_path)
                assert path_hook in sys.path_hooks
                assert stale_key not in sys.path_importer_cache
                raise ending()
        assert sys.meta_path == meta_path and sys.path_hooks == path_hooks
        assert sys.path_importer_cache[stale_key] is stale_finder
    finally:
        sys.path_importer_cache.pop(stale_key, None)


def test_sources_first_aliases_undone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A location's spellings of its path serve its source while entered; after, the cache holds what it held."""
    archive = write_zip(tmp_path / "alias.zip", {"alias_mod.py": "X = 1\n"})
    source = zrun.ZipSource(str(archive))
    monkeypatch.chdir(tmp_path)
    earlier = object()
    monkeypatch.setitem(sys.path_importer_cache, "alias.zip", earlier)  # type: ignore[arg-type]
    with pytest.raises(KeyboardInterrupt):
        with SourcesFirst([source], ["alias.zip", str(archive)], source):
            assert type(sys.path_importer_cache["alias.zip"]).__name__ == "SourceFinder"
            assert sys.path_importer_cache[str(archive)] is sys.path_importer_cache["alias.zip"]
            raise KeyboardInterrupt
    assert sys.path_importer_cache["alias.zip"] is earlier and str(archive) not in sys.path_importer_cache


def test_hidden_modules_come_back(ending: Type[BaseException]) -> None:
    """Hidden modules return, the same objects, over whatever the body imported under their names."""
    parent, child = types.ModuleType("zz_hidden"), types.ModuleType("zz_hidden.sub")
    parent.sub = child  # type: ignore[attr-defined]
    sys.modules.update({"zz_hidden": parent, "zz_hidden.sub": child})
    try:
        with pytest.raises(ending):
            with HiddenModules(["zz_hidden", "zz_hidden.sub"]):
                assert "zz_hidden" not in sys.modules and "zz_hidden.sub" not in sys.modules
                sys.modules["zz_hidden.sub"] = types.ModuleType("zz_hidden.sub")
                raise ending()
        assert sys.modules["zz_hidden"] is parent and sys.modules["zz_hidden.sub"] is child
    finally:
        sys.modules.pop("zz_hidden", None)
        sys.modules.pop("zz_hidden.sub", None)


@pytest.mark.parametrize("replace", [False, True])
def test_path0_undone(ending: Type[BaseException], replace: bool) -> None:
    before = list(sys.path)
    with pytest.raises(ending):
        with Path0("/zrun-test/path0", replace=replace):
            assert sys.path[0] == "/zrun-test/path0"
            assert sys.path[1:] == (before[1:] if replace else before)
            sys.path.append("/zrun-test/appended")  # the run's own change: SysState's to undo, not the piece's
            raise ending()
    assert sys.path == [*before, "/zrun-test/appended"]
    sys.path.remove("/zrun-test/appended")


def test_path0_none_changes_nothing() -> None:
    before = list(sys.path)
    with Path0(None):
        assert sys.path == before
    assert sys.path == before


def test_argv_undone_even_when_rebound(ending: Type[BaseException], monkeypatch: pytest.MonkeyPatch) -> None:
    """In place, as console scripts need (``def main(args=sys.argv)``); the same list and contents come back."""
    argv = ["host", "--flag"]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(ending):
        with Argv("prog", ["a", "b"]):
            assert sys.argv is argv and argv == ["prog", "a", "b"]
            sys.argv = ["rebound"]
            raise ending()
    assert sys.argv is argv and argv == ["host", "--flag"]


def test_argv_missing_stays_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(sys, "argv")
    with pytest.raises(ValueError):
        with Argv("prog", ["a"]):
            assert sys.argv == ["prog", "a"]
            raise ValueError
    assert not hasattr(sys, "argv")


@pytest.mark.parametrize("name", ["__main__", "zz_run_name"])
def test_main_module_undone(ending: Type[BaseException], name: str) -> None:
    had, previous = name in sys.modules, sys.modules.get(name)
    module = types.ModuleType(name)
    with pytest.raises(ending):
        with MainModule(module):
            assert sys.modules[name] is module
            raise ending()
    assert (name in sys.modules, sys.modules.get(name)) == (had, previous)


def test_spawn_patch_undone(ending: Type[BaseException], monkeypatch: pytest.MonkeyPatch) -> None:
    """Children respawn from the path only during the run; ``multiprocessing.spawn`` is unpatched after."""
    import multiprocessing.spawn as mp_spawn

    original = getattr(mp_spawn.get_preparation_data, "__wrapped__", mp_spawn.get_preparation_data)
    monkeypatch.setattr(mp_spawn, "get_preparation_data", original)
    monkeypatch.setattr(SpawnPatch, "respawn", [])
    module = types.ModuleType("__main__")
    with pytest.raises(ending):
        with SpawnPatch(module, "/zrun-test/app.zip"):
            assert mp_spawn.get_preparation_data is not original
            assert [(ref(), path) for ref, path in SpawnPatch.respawn] == [(module, "/zrun-test/app.zip")]
            with SpawnPatch():  # a nested run's patch leaves the outer one in place
                pass
            assert mp_spawn.get_preparation_data is not original
            raise ending()
    assert mp_spawn.get_preparation_data is original
    assert SpawnPatch.respawn == [] and SpawnPatch.active == 0


class _FailsToUndo:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        raise MemoryError("undoing failed")


def test_pieces_undo_in_reverse_and_all_of_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """A piece whose undo fails does not keep the ones entered before it from being undone; its error comes out."""
    argv = ["host"]
    monkeypatch.setattr(sys, "argv", argv)
    seen = []
    with pytest.raises(MemoryError, match="undoing failed"):
        with Pieces() as pieces:
            pieces.enter(Argv("outer", []))
            pieces.enter(_FailsToUndo())
            pieces.enter(Argv("inner", ["x"]))
            seen.append(list(sys.argv))
            raise ValueError("the body's own error")
    assert seen == [["inner", "x"]] and sys.argv is argv and argv == ["host"]


def test_cli_run_keeps_its_pieces_for_threads_and_atexit(zrun_cli: Launcher, tmp_path: Path) -> None:
    """``python -m zrun`` never undoes its run: after the module's code ends, a thread still running and the
    ``atexit`` handlers see the target's ``sys.argv``, ``sys.path[0]`` and ``__main__``, as under ``python -m``."""
    code = (
        "import atexit, sys, threading, time\n"
        "def report(who):\n"
        "    main = sys.modules['__main__']\n"
        "    print(who, sys.argv, sys.path[0] == sys.argv[0].rsplit('/pkg/', 1)[0], main.__spec__.name, main.MARK)\n"
        "def module_running():\n"
        "    frame = sys._current_frames().get(threading.main_thread().ident)\n"
        "    while frame is not None and frame.f_code.co_filename != __file__:\n"
        "        frame = frame.f_back\n"
        "    return frame is not None\n"
        "def after_the_module():\n"
        "    for _ in range(500):\n"
        "        if not module_running():\n"
        "            return report('thread')\n"
        "        time.sleep(0.01)\n"
        "MARK = 'mine'\n"
        "threading.Thread(target=after_the_module).start()\n"
        "atexit.register(report, 'atexit')\n"
    )
    archive = write_zip(tmp_path / "keep.zip", {"pkg/__init__.py": "", "pkg/late.py": code})
    out = expect_ok(zrun_cli(f"{archive}:pkg.late", "arg", cwd=tmp_path, timeout=60))
    argv = [f"{archive}/pkg/late.py", "arg"]
    assert sorted(out.splitlines()) == sorted(f"{who} {argv} True pkg.late mine" for who in ("thread", "atexit"))


# --- the entry points: one body over every entry point and every source kind ------------------------------

#: User code that changes each thing the pieces manage, then ends by raising.
CHANGES = """
import sys, types
sys.excepthook = print
sys.argv = ["rebound"]
sys.path.insert(0, "/zrun-test/by-code")
sys.modules["__main__"] = types.ModuleType("impostor")
raise {raise_}
"""

RAISE_CODE = {ValueError: "ValueError('boom')", SystemExit: "SystemExit(3)", KeyboardInterrupt: "KeyboardInterrupt"}


def _run(tree: Any) -> None:
    zrun.run("runsteps_pkg.changes", sources=tree.sources)


def _run_located(tree: Any) -> None:
    if tree.location is None:
        zrun.run("runsteps_pkg.changes", sources=tree.sources)
    else:
        zrun.run(f"{tree.location}:runsteps_pkg.changes")


def _run_module(tree: Any) -> None:
    zrun.run_module("runsteps_pkg.changes", alter_sys=True, sources=tree.sources)


def _run_path(tree: Any) -> None:
    if tree.location is None:
        pytest.skip(f"run_path takes a path; a {tree.kind} source has none")
    zrun.run_path(tree.location)


def _scope_run(tree: Any) -> None:
    with zrun.Scope(tree.sources) as scope:
        inside = _observed()
        try:
            scope.run("runsteps_pkg.changes")
        finally:
            assert _observed() == inside
    assert scope.diff() == []


ENTRY_POINTS: Dict[str, Callable[[Any], None]] = {
    "run": _run,
    "run_location": _run_located,
    "run_module": _run_module,
    "run_path": _run_path,
    "scope_run": _scope_run,
}


def _observed() -> Dict[str, Any]:
    argv = getattr(sys, "argv", None)
    return {
        "excepthook": sys.excepthook,
        "argv": (id(argv), list(argv) if isinstance(argv, list) else argv),
        "path": list(sys.path),
        "__main__": sys.modules.get("__main__"),
    }


@pytest.mark.parametrize("entry_point", sorted(ENTRY_POINTS))
def test_entry_points_leave_sys_as_before(make_tree: Any, entry_point: str, ending: Type[BaseException], clean_sys: Any) -> None:
    code = CHANGES.format(raise_=RAISE_CODE[ending])
    tree = make_tree({"__main__.py": code, "runsteps_pkg/__init__.py": "", "runsteps_pkg/changes.py": code})
    before = _observed()
    with pytest.raises(ending):
        ENTRY_POINTS[entry_point](tree)
    assert _observed() == before
