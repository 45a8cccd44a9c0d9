"""zrun.run_module / zrun.run_path against runpy, key by key, on the running interpreter.

Each test runs the same code through ``runpy`` and through zrun and compares
the globals the code saw and what it saw in ``sys``. Where zrun differs on
purpose (docs/compatibility.md, REFERENCE §2) the zrun value is asserted
explicitly instead.
"""

from __future__ import annotations

import copy
import os
import runpy
import sys
import warnings
from importlib.machinery import ModuleSpec
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, Optional

import pytest

import zrun
from conftest import tree_builder, write_tree, write_zip
from zrun.loading.loader import ModuleLoader

PROBE = '''"""probe doc"""
import sys
SEEN = {k: v for k, v in globals().items() if k not in ("__builtins__", "sys")}
ARGV = list(sys.argv) if isinstance(getattr(sys, "argv", None), list) else None
MODULE = sys.modules.get(__name__)
OWN_MODULE = MODULE is not None and getattr(MODULE, "__dict__", None) is globals()
PATH0 = sys.path[0]
'''

FILES = {
    "cmp_pkg/__init__.py": "",
    "cmp_pkg/mod.py": PROBE,
    "cmp_pkg/__main__.py": PROBE,
    "__main__.py": PROBE + "import cmp_helper\nHELPER = cmp_helper.VALUE\n",
    "cmp_helper.py": "VALUE = 'helper from the location'\n",
}

ARGV = ["prog", "arg1", "--flag"]

#: Whether this interpreter's runpy sets ``__cached__`` at all (3.15's does not): asked of runpy itself.
RUNPY_SETS_CACHED = "__cached__" in runpy.run_path(os.devnull)
#: zrun's documented ``__cached__`` for zip modules, where this version has the name.
ZIP_CACHED: Dict[str, Any] = {"__cached__": None} if RUNPY_SETS_CACHED else {}


@pytest.fixture(autouse=True)
def fresh_sys(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """runpy leaks modules and importer-cache entries; put everything back after each test."""
    everything = zrun.SysState(modules=True)
    monkeypatch.setattr(sys, "argv", list(ARGV))
    for name in [n for n in sys.modules if n.startswith(("cmp_", "__hello__"))]:
        monkeypatch.delitem(sys.modules, name)
    yield
    everything.restore()


def make_location(tmp_path: Path, kind: str) -> str:
    """FILES as one tree of ``kind``, for the tests about one kind only (the others take ``make_located``)."""
    return str(tree_builder(kind, tmp_path)(FILES).location)


def norm(value: Any) -> Any:
    """Specs and loaders compared by what they say, not by identity (each run finds anew)."""
    if isinstance(value, ModuleSpec):
        return (
            "spec",
            value.name,
            value.origin,
            value.parent,
            value.has_location,
            value.cached,
            value.submodule_search_locations,
            norm(value.loader),
        )
    if value is not None and hasattr(value, "get_code"):
        return ("loader", type(value), getattr(value, "name", None), getattr(value, "path", None), getattr(value, "archive", None))
    return value


def assert_same(ours: Dict[str, Any], theirs: Dict[str, Any], **zrun_values: Any) -> None:
    """Key by key; ``zrun_values`` are the documented zrun values where runpy differs."""
    assert set(ours) == set(theirs)
    for key in sorted(ours):
        if key in zrun_values:
            assert norm(ours[key]) == norm(zrun_values[key]), key
        else:
            assert norm(ours[key]) == norm(theirs[key]), key


def run_zrun(call: Callable[[], Dict[str, Any]]) -> Dict[str, Any]:
    """Run through zrun and check that ``sys`` is exactly as before."""
    state = zrun.SysState()
    argv = sys.argv
    result = call()
    assert state.diff() == []
    assert sys.argv is argv and sys.argv == ARGV
    return result


def facts(namespace: Dict[str, Any]) -> Dict[str, Any]:
    """What the code saw: its globals at start, argv, its module, sys.path[0]."""
    return {
        "SEEN": namespace["SEEN"],
        "ARGV": namespace["ARGV"],
        "OWN_MODULE": namespace["OWN_MODULE"],
        "IN_MODULES": namespace["MODULE"] is not None,
        "PATH0": namespace["PATH0"],
        "returned": {k: v for k, v in namespace.items() if k not in ("__builtins__", "SEEN", "MODULE", "sys")},
    }


# --- run_module ------------------------------------------------------------------


@pytest.mark.parametrize("alter_sys", [False, True])
def test_run_module_matches_runpy(make_located: Any, monkeypatch: pytest.MonkeyPatch, alter_sys: bool) -> None:
    location = make_located(FILES).location
    monkeypatch.syspath_prepend(location)
    theirs = runpy.run_module("cmp_pkg.mod", alter_sys=alter_sys)
    ours = run_zrun(lambda: zrun.run_module("cmp_pkg.mod", alter_sys=alter_sys))
    assert_same(ours["SEEN"], theirs["SEEN"])
    assert_same(facts(ours)["returned"], facts(theirs)["returned"])
    for key in ("ARGV", "OWN_MODULE", "IN_MODULES", "PATH0"):
        assert facts(ours)[key] == facts(theirs)[key], key
    seen = ours["SEEN"]
    assert seen["__name__"] == "cmp_pkg.mod"
    assert seen["__doc__"] == "probe doc"
    assert seen["__package__"] == "cmp_pkg" == seen["__spec__"].parent
    assert seen["__spec__"].name == "cmp_pkg.mod"
    assert seen["__file__"] == os.path.join(location, "cmp_pkg", "mod.py")
    assert ours["ARGV"] == ([seen["__file__"], *ARGV[1:]] if alter_sys else ARGV)
    assert facts(ours)["IN_MODULES"] is alter_sys
    assert "cmp_pkg" in sys.modules  # the parent is imported first and stays imported


def test_package_runs_its_main_like_runpy(make_located: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(make_located(FILES).location)
    theirs = runpy.run_module("cmp_pkg", alter_sys=True)
    ours = run_zrun(lambda: zrun.run_module("cmp_pkg", alter_sys=True))
    assert_same(ours["SEEN"], theirs["SEEN"])
    assert ours["SEEN"]["__name__"] == "cmp_pkg.__main__"
    assert ours["ARGV"] == theirs["ARGV"]


def test_zip_sources_use_zruns_loader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = make_location(tmp_path, "zip")
    monkeypatch.syspath_prepend(archive)
    theirs = runpy.run_module("cmp_pkg.mod", alter_sys=True)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != archive])
    for name in [n for n in sys.modules if n.startswith("cmp_")]:
        del sys.modules[name]
    ours = run_zrun(lambda: zrun.run_module("cmp_pkg.mod", alter_sys=True, sources=[archive]))
    seen = ours["SEEN"]
    loader = seen["__loader__"]
    assert isinstance(loader, ModuleLoader)
    assert seen["__spec__"].loader is loader
    # zrun's loader writes no .pyc, so there is no cached path to report (zipimport invents one)
    assert theirs["SEEN"]["__spec__"].cached is not None and seen["__spec__"].cached is None
    assert_same(
        seen,
        theirs["SEEN"],
        **ZIP_CACHED,
        __loader__=loader,
        __spec__=seen["__spec__"],
    )
    spec, their_spec = seen["__spec__"], theirs["SEEN"]["__spec__"]
    assert (spec.name, spec.origin, spec.parent, spec.has_location) == (their_spec.name, their_spec.origin, their_spec.parent, True)
    assert ours["ARGV"] == theirs["ARGV"]
    assert ours["OWN_MODULE"] and theirs["OWN_MODULE"]


@pytest.mark.parametrize("alter_sys", [False, True])
def test_run_name_and_init_globals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, alter_sys: bool) -> None:
    monkeypatch.syspath_prepend(make_location(tmp_path, "dir"))
    init = {"x": 1, "shared": [1, 2], "__name__": "from init", "__file__": "bogus", "__doc__": "init doc", "__package__": "nope"}
    before = copy.deepcopy(init)
    theirs = runpy.run_module("cmp_pkg.mod", init_globals=init, run_name="custom.name", alter_sys=alter_sys)
    assert init == before
    ours = run_zrun(lambda: zrun.run_module("cmp_pkg.mod", init_globals=init, run_name="custom.name", alter_sys=alter_sys))
    assert init == before, "init_globals must never be mutated"
    assert_same(ours["SEEN"], theirs["SEEN"])
    seen = ours["SEEN"]
    assert seen["x"] == 1 and seen["shared"] == [1, 2]
    assert seen["__name__"] == "custom.name"
    assert seen["__spec__"].name == "cmp_pkg.mod"
    assert seen["__package__"] == "cmp_pkg"
    assert facts(ours)["IN_MODULES"] is alter_sys and ours["OWN_MODULE"] is alter_sys
    assert "custom.name" not in sys.modules
    # a copy is returned with alter_sys (the temporary module is gone); otherwise the namespace itself
    assert ours is not init


def test_frozen_hello_has_no_file() -> None:
    theirs = runpy.run_module("__hello__")
    ours = run_zrun(lambda: zrun.run_module("__hello__"))
    assert ours["__spec__"].origin == theirs["__file__"]  # runpy: the origin string, 'frozen'
    assert_same(
        {k: v for k, v in ours.items() if k.startswith("__") and k != "__builtins__"},
        {k: v for k, v in theirs.items() if k.startswith("__") and k != "__builtins__"},
        __file__=None,
    )
    assert ours["__file__"] is None
    assert ours.get("__cached__") is None  # present exactly where runpy's is: assert_same compares the names
    assert ours["__name__"] == "__hello__"


# --- run_path ----------------------------------------------------------------------


@pytest.mark.parametrize("relative", [False, True])
@pytest.mark.parametrize("run_name", [None, "__main__", "a.b"])
def test_run_path_script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, relative: bool, run_name: Optional[str]) -> None:
    (tmp_path / "script.py").write_text(PROBE, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    path = "script.py" if relative else str(tmp_path / "script.py")
    theirs = runpy.run_path(path, run_name=run_name)
    ours = run_zrun(lambda: zrun.run_path(path, run_name=run_name))
    assert_same(ours["SEEN"], theirs["SEEN"])
    assert {k: v for k, v in facts(ours).items() if k != "returned"} == {k: v for k, v in facts(theirs).items() if k != "returned"}
    seen = ours["SEEN"]
    assert seen["__file__"] == path
    assert seen["__name__"] == (run_name or "<run_path>")
    assert seen["__loader__"] is None and seen["__spec__"] is None and seen.get("__cached__") is None
    assert ours["ARGV"] == [path, *ARGV[1:]]
    assert ours["OWN_MODULE"]


def test_run_path_location(make_located: Any) -> None:
    tree = make_located(FILES)
    location = tree.location
    theirs = runpy.run_path(location)
    ours = run_zrun(lambda: zrun.run_path(location))
    seen = ours["SEEN"]
    documented: Dict[str, Any] = {}
    if tree.kind == "zip":  # documented: zrun's loader serves archives (docs/compatibility.md)
        assert isinstance(seen["__loader__"], ModuleLoader)
        assert seen["__spec__"].cached is None
        documented = {**ZIP_CACHED, "__loader__": seen["__loader__"], "__spec__": seen["__spec__"]}
    assert_same(seen, theirs["SEEN"], **documented)
    assert seen["__name__"] == "<run_path>"
    assert seen["__spec__"].name == "__main__"
    assert seen["__file__"] == os.path.join(location, "__main__.py")
    assert seen["__package__"] == "" == seen["__spec__"].parent
    assert ours["HELPER"] == theirs["HELPER"] == "helper from the location"
    assert ours["PATH0"] == theirs["PATH0"] == location
    assert ours["ARGV"] == theirs["ARGV"] == [location, *ARGV[1:]]
    assert ours["OWN_MODULE"] and theirs["OWN_MODULE"]
    assert location not in sys.path


def test_run_path_zip_documented_differences(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A relative archive path: zrun reports absolute paths; ``__package__`` is ``__spec__.parent``."""
    # zipimport caches archives by the path string for ever: a relative name must be unique
    write_zip(tmp_path / "documented.zip", FILES)
    monkeypatch.chdir(tmp_path)
    theirs = runpy.run_path("documented.zip", run_name="a.b")
    ours = run_zrun(lambda: zrun.run_path("documented.zip", run_name="a.b"))
    seen = ours["SEEN"]
    assert theirs["SEEN"]["__file__"] == os.path.join("documented.zip", "__main__.py")
    assert theirs["SEEN"]["__package__"] == "a"
    assert_same(
        seen,
        theirs["SEEN"],
        __file__=str(tmp_path / "documented.zip" / "__main__.py"),
        __package__="",
        **ZIP_CACHED,
        __loader__=seen["__loader__"],
        __spec__=seen["__spec__"],
    )
    assert ours["ARGV"] == theirs["ARGV"] == ["documented.zip", *ARGV[1:]]
    assert ours["PATH0"] == theirs["PATH0"] == "documented.zip"


def test_run_path_folder_inside_archive(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "app.zip", {"sub/__main__.py": PROBE})
    path = str(archive / "sub")
    theirs = runpy.run_path(path)
    ours = run_zrun(lambda: zrun.run_path(path))
    assert ours["SEEN"]["__file__"] == theirs["SEEN"]["__file__"] == os.path.join(path, "__main__.py")
    assert ours["ARGV"] == theirs["ARGV"] == [path, *ARGV[1:]]


@pytest.mark.parametrize("spelling", [Path, os.fsencode])
def test_run_path_pathlike_and_bytes(tmp_path: Path, spelling: Callable[[str], Any]) -> None:
    location = make_location(tmp_path, "dir")
    theirs = runpy.run_path(location)
    ours = run_zrun(lambda: zrun.run_path(spelling(location)))
    assert_same(ours["SEEN"], theirs["SEEN"])
    assert ours["ARGV"] == theirs["ARGV"]


def test_run_path_init_globals_never_mutated(tmp_path: Path) -> None:
    location = make_location(tmp_path, "zip")
    init = {"x": 1, "__name__": "ignored", "__spec__": "ignored"}
    before = dict(init)
    ours = run_zrun(lambda: zrun.run_path(location, init_globals=init, run_name="__main__"))
    assert init == before
    assert ours["SEEN"]["x"] == 1
    assert ours["SEEN"]["__name__"] == "__main__"
    assert ours["SEEN"]["__spec__"].name == "__main__"


def test_run_path_missing_file_is_file_not_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError) as theirs:
        runpy.run_path("nope.py")
    with pytest.raises(FileNotFoundError) as ours:
        run_zrun(lambda: zrun.run_path("nope.py"))
    assert (ours.value.errno, ours.value.strerror, ours.value.filename) == (
        theirs.value.errno,
        theirs.value.strerror,
        theirs.value.filename,
    )


# --- errors, by exact text ------------------------------------------------------------

ERROR_FILES = {
    "cmp_nomain/__init__.py": "",
    "cmp_pkgmain/__init__.py": "",
    "cmp_pkgmain/__main__/__init__.py": "",
    "cmp_script.py": "IMPORTED = True\n",
    "cmp_warn/__init__.py": "from . import mod\n",
    "cmp_warn/mod.py": "RAN = True\n",
}


def both_raise(name: str) -> str:
    """runpy and zrun raise the same ImportError text; zrun's is a zrun.NotRunnable."""
    with pytest.raises(ImportError) as theirs:
        runpy.run_module(name)
    state = zrun.SysState()
    with pytest.raises(zrun.NotRunnable) as ours:
        zrun.run_module(name)
    assert state.diff() == []
    assert isinstance(ours.value, ImportError)
    assert str(ours.value) == str(theirs.value)
    return str(ours.value)


@pytest.fixture
def error_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = write_tree(tmp_path / "errs", ERROR_FILES)
    monkeypatch.syspath_prepend(str(root))
    return root


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("cmp_nosuch", "No module named cmp_nosuch"),
        ("cmp_nomain.nosuch", "No module named cmp_nomain.nosuch"),
        (".cmp_rel", "Relative module names not supported"),
        ("cmp_nomain", "No module named cmp_nomain.__main__; 'cmp_nomain' is a package and cannot be directly executed"),
        ("cmp_pkgmain.__main__", "Cannot use package as __main__ module"),
        ("cmp_pkgmain", "Cannot use package as __main__ module; 'cmp_pkgmain' is a package and cannot be directly executed"),
        ("sys", "No code object available for sys"),
        (
            "cmp_nosuch.sub",
            "Error while finding module specification for 'cmp_nosuch.sub' (ModuleNotFoundError: No module named 'cmp_nosuch')",
        ),
        (
            "cmp_nosuch.py",
            "Error while finding module specification for 'cmp_nosuch.py' (ModuleNotFoundError: No module named 'cmp_nosuch')."
            " Try using 'cmp_nosuch' instead of 'cmp_nosuch.py' as the module name.",
        ),
        (
            "cmp_script.py",
            "Error while finding module specification for 'cmp_script.py' (ModuleNotFoundError: __path__ attribute not found"
            " on 'cmp_script' while trying to find 'cmp_script.py'). Try using 'cmp_script' instead of 'cmp_script.py' as the"
            " module name.",
        ),
    ],
)
def test_error_messages(error_path: Path, name: str, message: str) -> None:
    assert both_raise(name) == message


def test_error_from_zrun_run_too(error_path: Path) -> None:
    with pytest.raises(zrun.NotRunnable, match=r"^No module named cmp_nomain\.__main__; 'cmp_nomain' is a package and cannot"):
        zrun.run("cmp_nomain")
    with pytest.raises(zrun.NotRunnable, match=r"^Error while finding .*\. Try using 'cmp_script' instead of 'cmp_script.py'"):
        zrun.run(zrun.Target(module="cmp_script.py"))


def test_runtime_warning_text(error_path: Path) -> None:
    expected = (
        "'cmp_warn.mod' found in sys.modules after import of package 'cmp_warn', but prior to execution of 'cmp_warn.mod';"
        " this may result in unpredictable behaviour"
    )
    for run in (runpy.run_module, zrun.run_module):
        sys.modules.pop("cmp_warn.mod", None)
        sys.modules.pop("cmp_warn", None)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            namespace = run("cmp_warn.mod")
        assert namespace["RAN"] is True
        assert [(w.category, str(w.message)) for w in caught] == [(RuntimeWarning, expected)], run


def test_no_main_looks_only_inside(make_located: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """gh-75221: runpy would run a ``__main__`` found elsewhere on sys.path."""
    elsewhere = write_tree(tmp_path / "elsewhere", {"__main__.py": "raise AssertionError('somebody else\\'s __main__ ran')\n"})
    monkeypatch.syspath_prepend(str(elsewhere))
    name = os.path.basename(make_located({"other.py": ""}).location)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(zrun.NotRunnable) as info:
        run_zrun(lambda: zrun.run_path(name))
    assert str(info.value) == f"can't find '__main__' module in {name!r}"
    assert isinstance(info.value, ImportError)
    with pytest.raises(zrun.NotRunnable) as info:
        zrun.run(f"./{name}")
    assert str(info.value) == f"can't find '__main__' module in './{name}'"
    # and runpy, on its own, gives the same text when nothing else is there to find
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(elsewhere)])
    with pytest.raises(ImportError) as theirs:
        runpy.run_path(name)
    assert str(theirs.value) == f"can't find '__main__' module in {name!r}"
