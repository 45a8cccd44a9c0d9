"""Where interpreter versions differ, zrun does what the running interpreter's own runpy and ``python`` do.

Every expectation here is measured on the running interpreter (runpy, the
import system, a ``python`` subprocess), never written down per version:
3.15's missing ``__cached__`` and its ``SyntaxWarning`` filters by module,
3.14's ``ImportError.name``, ``-I`` / ``-P`` and ``sys.path[0]``, and
``sys.argv[0] == '-m'`` while ``python -m`` imports the parent package.
"""

from __future__ import annotations

import os
import py_compile
import runpy
import subprocess
import sys
import warnings
from importlib.machinery import SourceFileLoader
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest

import zrun
from conftest import Tree, write_tree, write_zip

WARNS = 'x = "\\d"  # an invalid escape: SyntaxWarning (DeprecationWarning before 3.12) when compiled\n'
SHOW_PATH = "import sys\nprint('\\n'.join(sys.path))\n"
Outcome = Tuple[Optional[str], List[Tuple[str, int]]]


@pytest.fixture(autouse=True)
def fresh_sys(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No bytecode written or cached: every run below compiles, so every run can warn."""
    everything = zrun.SysState(modules=True)
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    monkeypatch.setattr(sys, "argv", ["host-prog"])
    yield
    everything.restore()


def outcome(call: Callable[[], Any], *, always: str, error: str) -> Outcome:
    """Run ``call`` with warnings of module ``always`` shown and all others errors; what got out.

    ``error`` matches what 3.15 would take for the module when told none: the
    path, as dotted suffixes (``pvw_pkg/mod.py`` -> ``mod``). It is checked
    first, so the outcome tells which name the compiler was given.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("error")
        warnings.filterwarnings("always", module=always)
        warnings.filterwarnings("error", module=error)
        try:
            call()
            raised = None
        except Exception as exc:  # the comparison is the point: runpy's outcome, whatever it is
            raised = type(exc).__name__
    return raised, sorted((warning.category.__name__, warning.lineno) for warning in caught)


def python(*args: str, cwd: Optional[Path] = None, env: Optional[Dict[str, str]] = None) -> Tuple[int, str, str]:
    full_env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    full_env.update(env or {})
    result = subprocess.run([sys.executable, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=60)
    return result.returncode, result.stdout, result.stderr


# --- 3.15: no __cached__ -------------------------------------------------------------------------


def test_cached_is_set_exactly_where_runpy_sets_it(make_tree: Callable[..., Tree], tmp_path: Path) -> None:
    files = {"pvc_pkg/__init__.py": "", "pvc_pkg/mod.py": "import sys\n"}
    sys.path.insert(0, str(write_tree(tmp_path / "reference", files)))
    theirs = runpy.run_module("pvc_pkg.mod")
    sys.path.pop(0)
    for name in [name for name in sys.modules if name.startswith("pvc_pkg")]:
        del sys.modules[name]
    tree = make_tree(files)
    ours = zrun.run_module("pvc_pkg.mod", sources=tree.sources)
    assert ("__cached__" in ours) == ("__cached__" in theirs)
    main = zrun.run("pvc_pkg.mod", sources=tree.sources, isolate=True)
    assert ("__cached__" in main) == ("__cached__" in theirs)


def test_script_globals_as_runpy_and_python(tmp_path: Path) -> None:
    script = tmp_path / "pvc_script.py"
    script.write_text("print(sorted(name for name in globals() if name.startswith('__')))\n", encoding="utf-8")
    assert ("__cached__" in zrun.run_path(str(script))) == ("__cached__" in runpy.run_path(str(script)))
    assert python("-m", "zrun", str(script))[1] == python(str(script))[1]


# --- 3.15: SyntaxWarnings filtered by the module being compiled --------------------------------


def test_syntax_warnings_filtered_by_module_as_runpy(make_tree: Callable[..., Tree], source_kind: str, tmp_path: Path) -> None:
    """runpy compiles ``pvw_pkg.mod`` under its name (3.15); zrun's loader must name it too."""
    if source_kind == "frozen":
        pytest.skip("a bundle is compiled when made: test_bundle_compiles_modules_under_their_names")
    files = {"pvw_pkg/__init__.py": "", "pvw_pkg/mod.py": f"# {source_kind}\n{WARNS}"}
    sys.path.insert(0, str(write_tree(tmp_path / "reference", files)))
    theirs = outcome(lambda: runpy.run_module("pvw_pkg.mod"), always=r"pvw_pkg\.mod\Z", error=r"mod\Z")
    sys.path.pop(0)
    for name in [name for name in sys.modules if name.startswith("pvw_pkg")]:
        del sys.modules[name]
    tree = make_tree(files)
    ours = outcome(lambda: zrun.run_module("pvw_pkg.mod", sources=tree.sources), always=r"pvw_pkg\.mod\Z", error=r"mod\Z")
    assert ours == theirs


def test_bundle_compiles_modules_under_their_names(tmp_path: Path) -> None:
    files = {"pvb_pkg/__init__.py": "", "pvb_pkg/mod.py": WARNS}
    path = write_tree(tmp_path / "reference", files) / "pvb_pkg" / "mod.py"
    flags = {"always": r"pvb_pkg\.mod\Z", "error": "<frozen"}  # a bundle's code is named <frozen pvb_pkg.mod>
    theirs = outcome(lambda: SourceFileLoader("pvb_pkg.mod", str(path)).get_code("pvb_pkg.mod"), **flags)
    ours = outcome(lambda: zrun.FrozenSource.compile(zrun.MemorySource(files)), **flags)
    assert ours == theirs


@pytest.mark.parametrize("run_name", [None, "pvw.script"])
def test_run_path_script_warnings_filtered_by_run_name(tmp_path: Path, run_name: Optional[str]) -> None:
    script = tmp_path / "pvw_script.py"
    script.write_text(WARNS, encoding="utf-8")
    always = r"<run_path>\Z" if run_name is None else r"pvw\.script\Z"
    theirs = outcome(lambda: runpy.run_path(str(script), run_name=run_name), always=always, error=r"pvw_script\Z")
    ours = outcome(lambda: zrun.run_path(str(script), run_name=run_name), always=always, error=r"pvw_script\Z")
    assert ours == theirs


@pytest.mark.parametrize("layout", ["zip", "zip-folder", "script"])
def test_cli_warnings_filtered_by_module_as_python(tmp_path: Path, layout: str) -> None:
    """``python -W error -W always:::__main__ PATH``: the ``__main__`` compiled from an archive or file is ``__main__``."""
    if layout == "script":
        target, path_name = tmp_path / "pvw_main.py", "pvw_main"
        target.write_text(WARNS, encoding="utf-8")
    else:
        inner = "pvw_app/" if layout == "zip-folder" else ""
        archive = write_zip(tmp_path / "pvw.zip", {f"{inner}__main__.py": WARNS})
        target = archive / inner.rstrip("/") if inner else archive
        path_name = "pvw_app.__main__" if inner else "zip.__main__"
    # The last -W wins: an error for the name 3.15 would make of the path, shown for __main__.
    flags = ["-W", "error", "-W", "always:::__main__", "-W", f"error:::{path_name}"]
    code, _, err = python(*flags, str(target))
    ours_code, _, ours_err = python(*flags, "-m", "zrun", str(target))
    # The warning and error lines themselves (the source lines under them are linecache's business).
    assert (ours_code, warning_lines(ours_err)) == (code, warning_lines(err)), ours_err
    assert warning_lines(err) or code != 0


def warning_lines(stderr: str) -> List[str]:
    return [line for line in stderr.splitlines() if "Warning: " in line or line.startswith("SyntaxError")]


# --- 3.14: ImportError.name ------------------------------------------------------------------


@pytest.mark.parametrize("mod_name", ["pvn_missing_module", "sys.imp.eric", ".relative_name", "sys", "multiprocessing"])
def test_errors_name_the_module(mod_name: str) -> None:
    """Every version (runpy only from 3.14): ``e.name`` says which module could not run."""
    with pytest.raises(ImportError) as theirs:
        runpy.run_module(mod_name)
    with pytest.raises(ImportError) as ours:
        zrun.run_module(mod_name)
    assert ours.value.name == mod_name
    assert str(ours.value) == str(theirs.value)
    assert theirs.value.name in (None, mod_name)


def test_directory_without_main_names_main(tmp_path: Path) -> None:
    write_tree(tmp_path / "app", {"not_main.py": ""})
    with pytest.raises(ImportError) as theirs:
        runpy.run_path(str(tmp_path / "app"))
    with pytest.raises(ImportError) as ours:
        zrun.run_path(str(tmp_path / "app"))
    assert ours.value.name == "__main__"
    assert theirs.value.name in (None, "__main__")


# --- -I / -P: what python puts at sys.path[0] -----------------------------------------------------


@pytest.mark.parametrize("flags", [["-I"], ["-Es"], ["-E", "-P"]], ids=["isolated", "default", "safe-path"])
@pytest.mark.parametrize("layout", ["dir", "zip", "script"])
def test_sys_path_as_python_gives_it(tmp_path: Path, flags: List[str], layout: str) -> None:
    if "-P" in flags and sys.version_info < (3, 11):
        pytest.skip("-P is new in 3.11")
    work = tmp_path / "work"
    work.mkdir()
    if layout == "dir":
        target = write_tree(tmp_path / "app", {"__main__.py": SHOW_PATH})
    elif layout == "zip":
        target = write_zip(tmp_path / "app.zip", {"__main__.py": SHOW_PATH})
    else:
        target = write_tree(tmp_path / "app", {"show.py": SHOW_PATH}) / "show.py"
    code, out, err = python(*flags, str(target), cwd=work)
    ours = python(*flags, "-m", "zrun", str(target), cwd=work)
    assert ours == (code, out, err)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="-P and PYTHONSAFEPATH are new in 3.11")
@pytest.mark.parametrize("form", [["-m", "pvp_show"], ["pvp_show"]], ids=["dash-m", "module-target"])
def test_safe_path_module_keeps_sys_path(tmp_path: Path, form: List[str]) -> None:
    """``-P -m MOD``: no working directory at ``sys.path[0]``, which stays the stdlib zip entry."""
    folder = write_tree(tmp_path / "lib", {"pvp_show.py": SHOW_PATH})
    env = {"PYTHONPATH": str(folder), "PYTHONSAFEPATH": "1"}
    expected = python("-m", "pvp_show", cwd=tmp_path, env=env)
    assert python("-m", "zrun", *form, cwd=tmp_path, env=env) == expected
    assert str(tmp_path) not in expected[1].splitlines()


# --- bpo-8202: sys.argv[0] while the parent package is imported ------------------------------------

ARGV_PACKAGE = {
    "pva_pkg/__init__.py": "import sys\nprint('init', sys.argv[0])\nAT_INIT = sys.argv[0]\n",
    "pva_pkg/mod.py": "import sys\nprint('mod', sys.argv[0])\nfrom pva_pkg import AT_INIT\n",
}


@pytest.mark.parametrize("form", [["-m", "pva_pkg.mod"], ["pva_pkg.mod"]], ids=["dash-m", "module-target"])
def test_argv0_is_dash_m_while_the_parent_imports(tmp_path: Path, form: List[str]) -> None:
    root = write_tree(tmp_path / "app", ARGV_PACKAGE)
    expected = python("-m", "pva_pkg.mod", "a", cwd=root)
    assert expected[1].splitlines()[0] == "init -m"
    assert python("-m", "zrun", *form, "a", cwd=root) == expected


def test_argv0_is_dash_m_while_a_location_parent_imports(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "app.zip", ARGV_PACKAGE)
    code, out, err = python("-m", "zrun", f"{archive}:pva_pkg.mod", cwd=tmp_path)
    assert (code, out.splitlines(), err) == (0, ["init -m", f"mod {archive / 'pva_pkg' / 'mod.py'}"], "")


def test_run_gives_dash_m_to_the_parent(make_tree: Callable[..., Tree]) -> None:
    tree = make_tree(ARGV_PACKAGE)
    namespace = zrun.run("pva_pkg.mod", ["a"], sources=tree.sources, isolate=True)
    assert namespace["AT_INIT"] == "-m"
    assert sys.argv == ["host-prog"]


# --- a script's __loader__ ---------------------------------------------------------------------------

SHOW_LOADER = "print(type(__loader__).__name__, __loader__.name, __loader__.path == __file__, __file__)\n"


@pytest.mark.parametrize("compiled", [False, True], ids=["source", "pyc"])
@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "relative"])
def test_script_loader_as_python_gives_it(tmp_path: Path, compiled: bool, relative: bool) -> None:
    script = tmp_path / "pvl_script.py"
    script.write_text(SHOW_LOADER, encoding="utf-8")
    if compiled:
        script = Path(py_compile.compile(str(script), cfile=str(tmp_path / "pvl_script.pyc"), doraise=True))
    target = script.name if relative else str(script)
    expected = python(target, cwd=tmp_path)
    assert expected[1].startswith("SourcelessFileLoader" if compiled else "SourceFileLoader")
    assert python("-m", "zrun", target, cwd=tmp_path) == expected
    quiet = tmp_path / "pvl_quiet.py"
    quiet.write_text("", encoding="utf-8")
    assert zrun.run_path(str(quiet))["__loader__"] is None is runpy.run_path(str(quiet))["__loader__"]
