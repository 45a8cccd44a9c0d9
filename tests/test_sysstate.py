"""Restore after every way out of a run, compared with a SysState snapshot taken before."""

from __future__ import annotations

import importlib
import os
import sys
import types
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, Optional, Tuple, Type

import pytest

import zrun
from conftest import expect_ok, run_python, sys_lock_is_free, write_tree, write_zip
from zrun.engine.sysstate import SysState

#: Every run first changes everything in sys that a run may change, then leaves by one way.
MUTATE = """
import sys, types
class Finder:
    @staticmethod
    def find_spec(name, path=None, target=None):
        return None
def hook(entry):
    raise ImportError(entry)
sys.path.insert(0, "/nonexistent/inserted")
sys.path.append("/nonexistent/appended")
sys.meta_path.append(Finder)
sys.meta_path.insert(0, Finder)
sys.path_hooks.append(hook)
sys.path_importer_cache["/nonexistent/cached"] = None
sys.modules["way_injected"] = types.ModuleType("way_injected")
if isinstance(getattr(sys, "argv", None), list):
    sys.argv.append("appended-by-code")
"""

WAYS: Dict[str, str] = {
    "return": "",
    "exception": "raise ValueError('boom')",
    "systemexit": "raise SystemExit(3)",
    "keyboardinterrupt": "raise KeyboardInterrupt",
    "rebind_argv": "sys.argv = ['rebound']",
    "clear_argv": "sys.argv[:] = []",
    "delete_argv": "del sys.argv",
    "delete_own_module": "del sys.modules[__name__]",
    "replace_main": "sys.modules['__main__'] = types.ModuleType('impostor')",
    "rebind_path": "sys.path = ['/rebound']\nsys.meta_path = []\nsys.path_hooks = []",
    "exit_in_nested_import": "import os\nsys.path.insert(0, os.path.dirname(__file__))\nimport way_nested",
}

RAISES: Dict[str, Optional[Type[BaseException]]] = {
    "exception": ValueError,
    "systemexit": SystemExit,
    "keyboardinterrupt": KeyboardInterrupt,
    "exit_in_nested_import": SystemExit,
}


def way_files() -> Dict[str, str]:
    files = {f"way_{name}.py": MUTATE + code + "\n" for name, code in WAYS.items()}
    files["way_nested.py"] = "import sys\nsys.path.insert(0, '/nested')\nraise SystemExit('nested')\n"
    files["way_pkg/__init__.py"] = ""
    files["__main__.py"] = MUTATE
    return files


@pytest.fixture(autouse=True)
def fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(sys, "argv", ["host-prog", "host-arg"])
    everything = SysState(modules=True)
    yield
    everything.restore()


@pytest.fixture
def ways(tmp_path: Path) -> Dict[str, str]:
    files = way_files()
    return {"zip": str(write_zip(tmp_path / "ways.zip", files)), "dir": str(write_tree(tmp_path / "ways", files))}


ENTRIES: Dict[str, Callable[[Dict[str, str], str], Any]] = {
    "run-zip-module": lambda w, way: zrun.run(f"{w['zip']}:way_{way}", ["a"]),
    "run-dir-module": lambda w, way: zrun.run(f"{w['dir']}:way_{way}", ["a"]),
    "run-isolated": lambda w, way: zrun.run(f"{w['zip']}:way_{way}", ["a"], isolate=True),
    "run-script": lambda w, way: zrun.run(os.path.join(w["dir"], f"way_{way}.py"), ["a"]),
    "run-sources": lambda w, way: zrun.run(f"way_{way}", ["a"], sources=[w["zip"]]),
    "run_module": lambda w, way: zrun.run_module(f"way_{way}", alter_sys=True, sources=[w["zip"]]),
    "run_path": lambda w, way: zrun.run_path(os.path.join(w["dir"], f"way_{way}.py"), run_name="__main__"),
}


def run_and_compare(call: Callable[[], Any], expected: Optional[Type[BaseException]]) -> None:
    argv = getattr(sys, "argv", None)
    argv_contents = list(argv) if argv is not None else None
    main = sys.modules.get("__main__")
    state = SysState()
    try:
        if expected is None:
            call()
        else:
            with pytest.raises(expected):
                call()
    finally:
        assert state.diff() == []
        assert getattr(sys, "argv", None) is argv
        if argv is not None:
            assert sys.argv == argv_contents
        assert sys.modules.get("__main__") is main
    assert sys_lock_is_free()


@pytest.mark.parametrize("entry", sorted(ENTRIES))
@pytest.mark.parametrize("way", sorted(WAYS))
def test_every_way_out(ways: Dict[str, str], entry: str, way: str) -> None:
    run_and_compare(lambda: ENTRIES[entry](ways, way), RAISES.get(way))


@pytest.mark.parametrize("entry", sorted(ENTRIES))
@pytest.mark.parametrize("argv_state", ["empty", "missing"])
@pytest.mark.parametrize("way", ["return", "rebind_argv", "exception", "delete_argv"])
def test_empty_or_missing_argv(ways: Dict[str, str], monkeypatch: pytest.MonkeyPatch, entry: str, argv_state: str, way: str) -> None:
    if argv_state == "empty":
        monkeypatch.setattr(sys, "argv", [])
    else:
        monkeypatch.delattr(sys, "argv")
    run_and_compare(lambda: ENTRIES[entry](ways, way), RAISES.get(way))


def test_code_sees_its_argv_even_when_host_has_none(ways: Dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(sys, "argv")
    code = write_tree(Path(ways["dir"]).parent / "argv", {"show.py": "import sys\nSEEN = list(sys.argv)\n"})
    assert zrun.run(str(code / "show.py"), ["x"])["SEEN"] == [str(code / "show.py"), "x"]
    assert zrun.run_path(str(code / "show.py"))["SEEN"] == [str(code / "show.py")]
    assert not hasattr(sys, "argv")


def test_isolate_removes_new_modules_and_restores_shadowed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    host = types.ModuleType("iso_shadow")
    monkeypatch.setitem(sys.modules, "iso_shadow", host)
    code = (
        "import sys, types\n"
        "sys.modules['iso_shadow'] = types.ModuleType('iso_shadow')\n"
        "import iso_new, iso_pkg.sub\n"
        "SAW = (iso_new.VALUE, iso_pkg.sub.VALUE)\n"
    )
    archive = write_zip(
        tmp_path / "iso.zip",
        {"iso_main.py": code, "iso_new.py": "VALUE = 1\n", "iso_pkg/__init__.py": "", "iso_pkg/sub.py": "VALUE = 2\n"},
    )
    before = SysState(modules=True)
    ns = zrun.run(f"{archive}:iso_main", isolate=True)
    assert ns["SAW"] == (1, 2)
    assert before.diff() == []
    assert sys.modules["iso_shadow"] is host
    assert not [name for name in sys.modules if name.startswith(("iso_new", "iso_pkg", "iso_main"))]
    # zrun's own modules, imported lazily, are never removed
    assert "zrun.engine.run" in sys.modules


def test_without_isolate_new_modules_stay(tmp_path: Path) -> None:
    """Like ``python -m``: modules the run imported stay imported; only the run's own entries go."""
    archive = write_zip(tmp_path / "stay.zip", {"stay_main.py": "import stay_json\n", "stay_json.py": "X = 1\n"})
    zrun.run("stay_main", sources=[str(archive)])
    assert "stay_json" in sys.modules
    assert "stay_main" not in sys.modules


def test_failed_start_leaves_no_trace(tmp_path: Path) -> None:
    """A run that never reaches the target's code leaves sys.modules exactly as before."""
    archive = write_zip(tmp_path / "broken.zip", {"brk_pkg/__init__.py": "import json\n", "other.py": ""})
    before = SysState(modules=True)
    with pytest.raises(zrun.NotRunnable, match=r"No module named brk_pkg\.missing"):
        zrun.run(f"{archive}:brk_pkg.missing")
    assert before.diff() == []


# --- SysState on its own ----------------------------------------------------------------


def test_snapshot_context_manager() -> None:
    argv, path, meta_path, hooks = sys.argv, sys.path, sys.meta_path, sys.path_hooks
    path_contents = list(path)
    with SysState() as state:
        sys.argv = ["new"]
        sys.path.append("/x")
        sys.path = ["/rebound"]
        sys.meta_path = []
        sys.path_hooks.append(len)
        sys.path_importer_cache["/state/x"] = None
        sys.modules["__main__"] = types.ModuleType("__main__")
        lines = state.diff()
    assert "sys.argv is a different object" in lines
    assert "sys.path is a different object" in lines
    assert "sys.meta_path is a different object" in lines
    assert any(line.startswith("sys.path_hooks changed") for line in lines)
    assert "sys.path_importer_cache gained ['/state/x']" in lines
    assert "sys.modules['__main__'] replaced" in lines
    assert state.diff() == []
    assert sys.argv is argv and sys.path is path and sys.meta_path is meta_path and sys.path_hooks is hooks
    assert sys.path == path_contents and "/state/x" not in sys.path_importer_cache


def test_restore_after_exception_in_block() -> None:
    argv = sys.argv
    with pytest.raises(KeyboardInterrupt):
        with SysState():
            del sys.argv
            raise KeyboardInterrupt
    assert sys.argv is argv


def test_importer_cache_entries_replaced_or_removed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.path_importer_cache, "/state/kept", None)
    state = SysState()
    del sys.path_importer_cache["/state/kept"]
    assert state.diff() == ["sys.path_importer_cache lost or replaced ['/state/kept']"]
    state.restore()
    assert sys.path_importer_cache["/state/kept"] is None
    assert state.diff() == []


def test_protect_and_protect_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    original = types.ModuleType("st_pkg")
    monkeypatch.setitem(sys.modules, "st_pkg", original)
    state = SysState()
    state.protect(["st_one"])
    state.protect_tree(["st_pkg"])
    sys.modules["st_one"] = types.ModuleType("st_one")
    sys.modules["st_pkg"] = types.ModuleType("st_pkg")
    sys.modules["st_pkg.new.deep"] = types.ModuleType("st_pkg.new.deep")
    sys.modules["st_unprotected"] = types.ModuleType("st_unprotected")
    assert state.diff() == [
        "sys.modules['st_one'] added",
        "sys.modules['st_pkg'] replaced",
        "sys.modules['st_pkg.new.deep'] added",
    ]
    state.restore()
    assert sys.modules["st_pkg"] is original
    assert "st_one" not in sys.modules and "st_pkg.new.deep" not in sys.modules
    assert "st_unprotected" in sys.modules  # only modules=True restores everything
    assert state.new_modules() == ["st_unprotected"]
    del sys.modules["st_unprotected"]


def test_all_modules() -> None:
    state = SysState(modules=True)
    sys.modules["st_everything"] = types.ModuleType("st_everything")
    assert state.diff() == ["sys.modules['st_everything'] added"]
    state.restore()
    assert "st_everything" not in sys.modules


def test_environ_and_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZRUN_STATE_TEST", "before")
    cwd = os.getcwd()
    with SysState(environ=True, cwd=True) as state:
        os.environ["ZRUN_STATE_TEST"] = "after"
        os.environ["ZRUN_STATE_NEW"] = "1"
        os.chdir(tmp_path)
        assert state.diff() == ["os.environ changed", f"working directory changed: {cwd!r} -> {str(tmp_path)!r}"]
    assert os.environ["ZRUN_STATE_TEST"] == "before" and "ZRUN_STATE_NEW" not in os.environ
    assert os.getcwd() == cwd


def test_missing_argv_snapshot(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(sys, "argv")
    with SysState() as state:
        sys.argv = ["made up"]
        assert state.diff() == ["sys.argv is a different object"]
    assert not hasattr(sys, "argv")


# --- what plugins change besides sys's lists and modules (issue 12, item 9) ---------------------


def _settings() -> Dict[str, Tuple[str, Callable[[], str]]]:
    """name -> (code that changes it, the diff() line expected afterwards)."""
    interval = sys.getswitchinterval()
    found: Dict[str, Tuple[str, Callable[[], str]]] = {
        "tracebacklimit": ("sys.tracebacklimit = 3", lambda: "sys.tracebacklimit set to 3"),
        "switchinterval": ("sys.setswitchinterval(0.0421)", lambda: f"switch interval changed: {interval} -> 0.0421"),
        "environ": ("import os\nos.environ = {}", lambda: "os.environ rebound"),
        "excepthook": ("sys.excepthook = print", lambda: "sys.excepthook replaced"),
        "displayhook": ("sys.displayhook = print", lambda: "sys.displayhook replaced"),
        "recursionlimit": ("sys.setrecursionlimit(sys.getrecursionlimit() + 17)", lambda: "recursion limit changed"),
    }
    if hasattr(sys, "set_int_max_str_digits"):  # 3.11+, 3.10.7+
        digits = sys.get_int_max_str_digits()
        found["int_max_str_digits"] = ("sys.set_int_max_str_digits(777)", lambda: f"int max str digits changed: {digits} -> 777")
    return found


SETTINGS = _settings()


def _unchanged(before: Dict[str, Any]) -> Dict[str, Any]:
    now = _observed()
    return {name: (value, now[name]) for name, value in before.items() if now[name] is not value and now[name] != value}


def _observed() -> Dict[str, Any]:
    return {
        "tracebacklimit": getattr(sys, "tracebacklimit", "absent"),
        "switchinterval": sys.getswitchinterval(),
        "environ": os.environ,
        "excepthook": sys.excepthook,
        "displayhook": sys.displayhook,
        "recursionlimit": sys.getrecursionlimit(),
        "int_max_str_digits": getattr(sys, "get_int_max_str_digits", lambda: None)(),
    }


@pytest.mark.parametrize("setting", sorted(SETTINGS))
@pytest.mark.parametrize("isolate", [False, True])
def test_runs_put_back_interpreter_settings(tmp_path: Path, setting: str, isolate: bool) -> None:
    code, _ = SETTINGS[setting]
    archive = write_zip(tmp_path / "settings.zip", {"set_it.py": f"import sys\n{code}\n"})
    before, state = _observed(), SysState()
    zrun.run(f"{archive}:set_it", isolate=isolate)
    assert _unchanged(before) == {}
    assert type(os.environ).__name__ == "_Environ"
    assert state.diff() == []


@pytest.mark.parametrize("setting", sorted(SETTINGS))
def test_scope_reports_then_puts_back_interpreter_settings(make_tree: Any, setting: str) -> None:
    code, line = SETTINGS[setting]
    scope = zrun.Scope(make_tree({"set_it.py": f"import sys\n{code}\n"}).sources)
    before = _observed()
    with scope:
        scope.import_module("set_it")
        assert [entry for entry in scope.diff() if entry.startswith(line())] != [], scope.diff()
    assert _unchanged(before) == {} and scope.diff() == []


def test_excepthook_after_running_zip_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading code from a zip replaced sys.excepthook on 3.9-3.12 while it was the default, and nothing put it back."""
    monkeypatch.setattr(sys, "excepthook", sys.__excepthook__)
    files = {"hook_mod.py": "X = 1\n", "hook_pkg/__init__.py": "", "hook_pkg/sub.py": ""}
    archive = write_zip(tmp_path / "hook.zip", files)
    hook = sys.excepthook
    zrun.run(f"{archive}:hook_mod")
    zrun.run_module("hook_pkg.sub", sources=[str(archive)], alter_sys=True)
    assert sys.excepthook is hook


@pytest.fixture
def parent_pkg(tmp_path: Path, clean_sys: Any) -> Iterator[types.ModuleType]:
    """A host package imported before the run, with one submodule imported and one not."""
    files = {"par_pkg/__init__.py": "", "par_pkg/kept.py": "WHO = 'host'\n", "par_pkg/child.py": "WHO = 'child'\n"}
    folder = write_tree(tmp_path / "parent", files)
    sys.path.append(str(folder))
    importlib.import_module("par_pkg.kept")
    yield sys.modules["par_pkg"]
    for name in [name for name in sys.modules if name.startswith("par_pkg")]:
        del sys.modules[name]
    sys.path.remove(str(folder))
    for key in [key for key in sys.path_importer_cache if key.startswith(str(folder))]:
        del sys.path_importer_cache[key]


def test_dropped_submodule_leaves_its_parent_too(tmp_path: Path, parent_pkg: types.ModuleType) -> None:
    archive = write_zip(tmp_path / "plugin.zip", {"uses_child.py": "import par_pkg.child\nSEEN = par_pkg.child.WHO\n"})
    assert zrun.run(f"{archive}:uses_child", isolate=True)["SEEN"] == "child"
    assert "par_pkg.child" not in sys.modules and not hasattr(parent_pkg, "child")
    from par_pkg import child  # imports afresh: the dropped module is not handed out

    assert sys.modules["par_pkg.child"] is child


def test_replaced_submodule_comes_back_on_its_parent(tmp_path: Path, parent_pkg: types.ModuleType) -> None:
    host_kept = sys.modules["par_pkg.kept"]
    code = "import importlib, sys\ndel sys.modules['par_pkg.kept']\nimport par_pkg.kept\nNEW = par_pkg.kept\n"
    archive = write_zip(tmp_path / "plugin.zip", {"reimports.py": code})
    assert zrun.run(f"{archive}:reimports", isolate=True)["NEW"] is not host_kept
    assert sys.modules["par_pkg.kept"] is host_kept and parent_pkg.kept is host_kept  # type: ignore[attr-defined]


def test_from_xml_import_dom_after_a_scope(tmp_path: Path) -> None:
    """The issue's case, in a fresh interpreter where xml.dom was never imported."""
    code = (
        "import sys, xml, zrun\n"
        "assert 'xml.dom' not in sys.modules\n"
        "with zrun.Scope([]) as scope:\n"
        "    dropped = scope.import_module('xml.dom')\n"
        "left = scope.diff()\n"
        "from xml import dom\n"
        "print(dom is not dropped, dom is sys.modules.get('xml.dom'), left)\n"
    )
    assert expect_ok(run_python(code, cwd=tmp_path)) == "True True []\n"


def test_sys_state_diff_names_each_setting() -> None:
    state = SysState()
    limit, interval, environ = getattr(sys, "tracebacklimit", None), sys.getswitchinterval(), os.environ
    try:
        sys.tracebacklimit = 5
        sys.setswitchinterval(interval * 2)
        os.environ = dict(os.environ)  # type: ignore[assignment]  # noqa: B003 - the rebinding is the test
        assert state.diff() == [
            "sys.tracebacklimit set to 5",
            f"switch interval changed: {interval} -> {interval * 2}",
            "os.environ rebound",
        ]
        state.restore()
        assert state.diff() == [] and os.environ is environ and sys.getswitchinterval() == interval
        assert getattr(sys, "tracebacklimit", None) is limit
    finally:
        os.environ = environ  # noqa: B003
        sys.setswitchinterval(interval)
