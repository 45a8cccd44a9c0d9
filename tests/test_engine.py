"""run(target, argv): every target form, and a main module that is a real module."""

from __future__ import annotations

import os
import sys
import zipapp
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

import zrun
from conftest import write_tree, write_zip

#: Records what the running code saw; its own module must be sys.modules[__name__].
PROBE = """
import sys
SAW_ARGV = list(sys.argv)
SAW_PATH0 = sys.path[0]
SAW_NAME = __name__
SAW_FILE = __file__
SAW_SPEC_NAME = __spec__.name if __spec__ is not None else None
SAW_OWN_MODULE = sys.modules[__name__].__dict__ is globals()
"""

APP = {
    "__main__.py": PROBE + "import eng_helper\nHELPER = eng_helper.WHERE\n",
    "eng_helper.py": "WHERE = 'helper in app'\n",
    "eng_pkg/__init__.py": "WHERE = 'app'\n",
    "eng_pkg/sib.py": "WHERE = 'sibling in app'\n",
    "eng_pkg/mod.py": PROBE + "from . import sib\nSIB = sib.WHERE\nfrom eng_pkg import WHERE as PKG\n",
    "eng_pkg/__main__.py": PROBE + "PKG_MAIN = True\n",
    "eng_pkg/cli.py": (
        "import sys\n"
        "CALLS = []\n"
        "def main():\n"
        "    CALLS.append((__name__, list(sys.argv)))\n"
        "    main = sys.modules['__main__']\n"
        "    return ('main returned', __name__, list(sys.argv), main is MAIN, (main.__name__, main.__package__, main.__spec__))\n"
        "def three():\n"
        "    return 3\n"
        "class Tool:\n"
        "    @staticmethod\n"
        "    def run():\n"
        "        return 'Tool.run'\n"
        "MAIN = sys.modules['__main__']\n"
    ),
}

HOST = {
    "eng_pkg/__init__.py": "WHERE = 'host'\n",
    "eng_pkg/sib.py": "WHERE = 'sibling in host'\n",
    "eng_pkg/mod.py": "raise AssertionError('the host module ran instead of the archive one')\n",
    "eng_pkg/hostonly.py": "",
}


@pytest.fixture(autouse=True)
def fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(sys, "argv", ["host-prog", "host-arg"])
    for name in [n for n in sys.modules if n.startswith(("eng_", "real_", "res_"))]:
        monkeypatch.delitem(sys.modules, name)
    everything = zrun.SysState(modules=True)
    yield
    everything.restore()


def run(target: Any, argv: Any = (), **options: Any) -> Any:
    """zrun.run, checking that sys is exactly as before afterwards, whatever happened."""
    state = zrun.SysState()
    argv_before = sys.argv
    try:
        return zrun.run(target, argv, **options)
    finally:
        assert state.diff() == []
        assert sys.argv is argv_before and sys.argv == ["host-prog", "host-arg"]


@pytest.fixture
def app_zip(tmp_path: Path) -> Path:
    return write_zip(tmp_path / "app.zip", APP)


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "appdir", APP)


def check_restored(argv: Any) -> None:
    assert sys.argv is argv and sys.argv == ["host-prog", "host-arg"]


# --- every target form -------------------------------------------------------------


def test_module(app_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(app_dir))
    argv = sys.argv
    ns: Dict[str, Any] = run("eng_pkg.mod", ["a", "--b"])
    origin = str(app_dir / "eng_pkg" / "mod.py")
    assert ns["SAW_ARGV"] == [origin, "a", "--b"]
    assert ns["SAW_NAME"] == "__main__" and ns["SAW_SPEC_NAME"] == "eng_pkg.mod"
    assert ns["SAW_FILE"] == origin
    assert ns["SAW_OWN_MODULE"] is True
    assert ns["SIB"] == "sibling in app" and ns["PKG"] == "app"
    check_restored(argv)


def test_package_module_runs_its_main(app_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(app_dir))
    ns = run("eng_pkg", ["x"])
    assert ns["PKG_MAIN"] is True
    assert ns["SAW_SPEC_NAME"] == "eng_pkg.__main__"
    assert ns["SAW_ARGV"] == [str(app_dir / "eng_pkg" / "__main__.py"), "x"]


def test_script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_tree(tmp_path / "scripts", {"script.py": PROBE + "import neighbour\n", "neighbour.py": ""})
    monkeypatch.chdir(tmp_path)
    argv = sys.argv
    ns = run("scripts/script.py", ["1"])
    assert ns["SAW_ARGV"] == ["scripts/script.py", "1"]  # as typed, like python
    assert ns["SAW_PATH0"] == str(tmp_path / "scripts")
    assert ns["SAW_FILE"] == str(tmp_path / "scripts" / "script.py")  # absolute, like python 3.9+
    assert ns["SAW_NAME"] == "__main__" and ns["SAW_SPEC_NAME"] is None
    assert ns["SAW_OWN_MODULE"] is True
    check_restored(argv)


def test_directory(app_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    ns = run("appdir/", ["x"])
    assert ns["SAW_ARGV"] == ["appdir/", "x"]
    assert ns["SAW_PATH0"] == str(app_dir) + os.sep  # joined to the cwd as typed, like python
    assert ns["HELPER"] == "helper in app"
    assert ns["SAW_SPEC_NAME"] == "__main__" and ns["SAW_OWN_MODULE"] is True
    assert ns["SAW_FILE"] == str(app_dir / "__main__.py")


def test_zip(app_zip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    ns = run("app.zip", ["x"])
    assert ns["SAW_ARGV"] == ["app.zip", "x"]
    assert ns["SAW_PATH0"] == str(app_zip)
    assert ns["HELPER"] == "helper in app"
    assert ns["SAW_FILE"] == str(app_zip / "__main__.py")
    assert ns["SAW_SPEC_NAME"] == "__main__" and ns["SAW_OWN_MODULE"] is True
    assert ns["__spec__"].cached is None and ns.get("__cached__") is None  # zrun's loader writes no .pyc


def test_pyz_with_shebang(app_dir: Path, tmp_path: Path) -> None:
    pyz = tmp_path / "app.pyz"
    zipapp.create_archive(app_dir, pyz, interpreter="/usr/bin/env python3")
    assert pyz.read_bytes().startswith(b"#!/usr/bin/env python3\n")
    ns = run(str(pyz), ["y"])
    assert ns["SAW_ARGV"] == [str(pyz), "y"]
    assert ns["HELPER"] == "helper in app"
    assert ns["SAW_FILE"] == str(pyz / "__main__.py")


def test_location_module(make_located: Any) -> None:
    location = make_located(APP).location
    argv = sys.argv
    ns = run(f"{location}:eng_pkg.mod", ["m"])
    origin = os.path.join(location, "eng_pkg", "mod.py")
    assert ns["SAW_ARGV"] == [origin, "m"]
    assert ns["SAW_PATH0"] == location
    assert ns["SAW_SPEC_NAME"] == "eng_pkg.mod" and ns["SAW_NAME"] == "__main__"
    assert ns["SAW_FILE"] == origin
    assert ns["SIB"] == "sibling in app"  # relative import inside the main module
    check_restored(argv)
    assert "eng_pkg" not in sys.modules  # the location's package does not outlive the run


def test_module_function(app_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(app_dir))
    main = sys.modules.get("__main__")
    argv = sys.argv
    value = run("eng_pkg.cli:main", ["f"])
    origin = str(app_dir / "eng_pkg" / "cli.py")
    # imported normally, not as __main__; during the call __main__ is a console-script wrapper's, then the host's again
    assert value == ("main returned", "eng_pkg.cli", [origin, "f"], False, ("__main__", None, None))
    assert sys.modules.get("__main__") is main
    assert run("eng_pkg.cli:three") == 3
    assert run("eng_pkg.cli:Tool.run") == "Tool.run"
    check_restored(argv)


def test_location_module_function(make_located: Any) -> None:
    location = make_located(APP).location
    assert run(f"{location}:eng_pkg.cli:three") == 3
    value = run(f"{location}:eng_pkg.cli:main", ["g"])
    assert value[:3] == ("main returned", "eng_pkg.cli", [os.path.join(location, "eng_pkg", "cli.py"), "g"])


def test_target_object(app_zip: Path) -> None:
    assert run(zrun.Target(location=str(app_zip), module="eng_pkg.cli", func="three")) == 3


@pytest.mark.parametrize("target", ["eng_pkg.cli:nosuch", "eng_pkg.cli:Tool.nosuch"])
def test_missing_function(app_dir: Path, monkeypatch: pytest.MonkeyPatch, target: str) -> None:
    monkeypatch.syspath_prepend(str(app_dir))
    with pytest.raises(zrun.NotRunnable, match=f"^module 'eng_pkg.cli' has no attribute '{target.split(':')[1]}'$"):
        run(target)


def test_not_callable(app_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(app_dir))
    with pytest.raises(zrun.NotRunnable, match=r"^eng_pkg\.cli:CALLS is not callable$"):
        run("eng_pkg.cli:CALLS")


def test_bare_directory_name_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``src:pkg.mod`` parses as module ``src``, function ``pkg.mod``; the error says what to write."""
    write_tree(tmp_path / "eng_src", {"eng_pkg/__init__.py": "", "eng_pkg/mod.py": ""})
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(zrun.NotRunnable, match=r"write './eng_src:eng_pkg.mod'"):
        run("eng_src:eng_pkg.mod")
    assert run("./eng_src:eng_pkg.mod")["__spec__"].name == "eng_pkg.mod"


def test_script_has_no_modules(tmp_path: Path) -> None:
    script = tmp_path / "s.py"
    script.write_text("", encoding="utf-8")
    with pytest.raises(zrun.NotRunnable, match="is not a directory or archive, so it has no module 'm'"):
        run(f"{script}:m")


def test_missing_location(tmp_path: Path) -> None:
    missing = tmp_path / "nope.zip"
    with pytest.raises(zrun.NotRunnable, match=r"^can't open file .*nope\.zip.*No such file or directory"):
        run(str(missing))


# --- the location wins, and the host's package comes back ------------------------------


def test_location_beats_host_package(make_located: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    host = write_tree(tmp_path / "host", HOST)
    monkeypatch.syspath_prepend(str(host))
    import eng_pkg
    import eng_pkg.sib

    host_modules = {name: module for name, module in sys.modules.items() if name.startswith("eng_pkg")}
    assert eng_pkg.WHERE == "host"
    location = make_located(APP).location
    ns = run(f"{location}:eng_pkg.mod")
    assert ns["PKG"] == "app" and ns["SIB"] == "sibling in app"
    assert ns["SAW_FILE"] == os.path.join(location, "eng_pkg", "mod.py")
    # the host's package and submodules are back, and nothing of the archive's remains
    assert {name: module for name, module in sys.modules.items() if name.startswith("eng_pkg")} == host_modules
    assert sys.modules["eng_pkg"] is eng_pkg and eng_pkg.WHERE == "host"
    import eng_pkg.hostonly

    assert eng_pkg.hostonly.__file__ == str(host / "eng_pkg" / "hostonly.py")


def test_function_target_location_beats_host(app_zip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    host = write_tree(tmp_path / "host", {**HOST, "eng_pkg/cli.py": "def three():\n    return 'host'\n"})
    monkeypatch.syspath_prepend(str(host))
    import eng_pkg.cli

    assert run(f"{app_zip}:eng_pkg.cli:three") == 3
    assert sys.modules["eng_pkg.cli"] is eng_pkg.cli and eng_pkg.cli.three() == "host"


# --- the main module is a real module -------------------------------------------------

REAL = '''
from __future__ import annotations
import dataclasses
import inspect
import pickle
import sys
from . import sib

@dataclasses.dataclass
class Point:
    x: int
    y: "int" = 0
    tags: list[str] = dataclasses.field(default_factory=list)

def helper(a, b):
    """A function whose source must be readable."""
    return a + b

COPY = pickle.loads(pickle.dumps(Point(1, 2, ["t"])))
PICKLED_OK = type(COPY) is Point and COPY == Point(1, 2, ["t"])
FUNC_SOURCE = inspect.getsource(helper)
CLASS_SOURCE = inspect.getsource(Point)
RELATIVE = sib.WHERE
MAIN_IS_ME = sys.modules["__main__"].__dict__ is globals()
'''

REAL_FILES = {
    "real_pkg/__init__.py": "",
    "real_pkg/sib.py": "WHERE = 'sibling'\n",
    "real_pkg/mod.py": REAL,
    "real_pkg/data.txt": "resource text\n",
}


@pytest.fixture
def real_location(make_located: Any) -> str:
    return str(make_located(REAL_FILES).location)


def test_main_module_is_real(real_location: str) -> None:
    for name in [n for n in sys.modules if n.startswith("real_pkg")]:
        del sys.modules[name]
    ns = run(f"{real_location}:real_pkg.mod")
    assert ns["PICKLED_OK"] is True
    assert ns["MAIN_IS_ME"] is True
    assert ns["RELATIVE"] == "sibling"
    assert ns["FUNC_SOURCE"] == 'def helper(a, b):\n    """A function whose source must be readable."""\n    return a + b\n'
    assert ns["CLASS_SOURCE"].startswith("@dataclasses.dataclass\nclass Point:\n    x: int\n")
    assert ns["Point"].__module__ == "__main__"
    assert ns["Point"].__annotations__ == {"x": "int", "y": "'int'", "tags": "list[str]"}
    assert [f.name for f in __import__("dataclasses").fields(ns["Point"])] == ["x", "y", "tags"]


def test_main_module_is_real_when_run_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = REAL_FILES
    monkeypatch.syspath_prepend(str(write_zip(tmp_path / "real.zip", files)))
    for name in [n for n in sys.modules if n.startswith("real_pkg")]:
        monkeypatch.delitem(sys.modules, name)
    ns = run("real_pkg.mod", sources=[str(tmp_path / "real.zip")])
    assert ns["PICKLED_OK"] is True and ns["RELATIVE"] == "sibling"
    assert ns["FUNC_SOURCE"].startswith("def helper(a, b):")


def test_main_module_is_real_from_any_source(make_tree: Any) -> None:
    """Pickling, dataclasses and relative imports in the main module do not depend on the kind of source."""
    readable = REAL.replace("inspect.getsource(helper)", "_source(helper)").replace("inspect.getsource(Point)", "_source(Point)")
    # inspect.getsource of a class with no __file__: OSError, or on 3.9 TypeError ("a built-in class")
    guarded = "def _source(obj):\n    try:\n        return inspect.getsource(obj)\n    except (OSError, TypeError):\n        return None\n"
    readable = readable.replace("def helper(", guarded + "def helper(")
    tree = make_tree({**REAL_FILES, "real_pkg/mod.py": readable})
    for name in [n for n in sys.modules if n.startswith("real_pkg")]:
        del sys.modules[name]
    ns = run("real_pkg.mod", sources=tree.sources)
    assert ns["PICKLED_OK"] is True and ns["MAIN_IS_ME"] is True and ns["RELATIVE"] == "sibling"
    assert ns["Point"].__module__ == "__main__"
    # docs/compatibility.md: functions' source needs source text (not frozen); a class's needs __file__ too
    assert (ns["FUNC_SOURCE"] or "").startswith("def helper(a, b):") is tree.has_source_text
    assert (ns["CLASS_SOURCE"] is not None) is tree.has_location


def test_pickle_in_archive_main(app_zip: Path) -> None:
    """A class defined in an archive's ``__main__.py`` pickles (runpy's plain dict cannot)."""
    code = "import pickle, sys\nclass C:\n    pass\nDATA = pickle.dumps(C())\nBACK = type(pickle.loads(DATA)) is C\n"
    archive = write_zip(app_zip.parent / "pick.zip", {"__main__.py": code})
    ns = run(str(archive))
    assert ns["BACK"] is True


FILES_PROBE = """
import sys
if sys.version_info >= (3, 12):
    from importlib.resources import files
    ROOT = files()
elif sys.version_info >= (3, 10):
    from importlib.resources import files
    ROOT = files(__spec__.parent)
else:
    from importlib_resources import files
    ROOT = files(__spec__.parent)
TEXT = (ROOT / "data.txt").read_text()
NAMES = sorted(p.name for p in ROOT.iterdir())
"""

def test_files_without_anchor(make_located: Any) -> None:
    files = {"res_pkg/__init__.py": "", "res_pkg/data.txt": "resource text\n", "res_pkg/probe.py": FILES_PROBE}
    location = make_located(files).location
    for name in [n for n in sys.modules if n.startswith("res_pkg")]:
        del sys.modules[name]
    ns = run(f"{location}:res_pkg.probe")
    assert ns["TEXT"] == "resource text\n"
    assert {"__init__.py", "data.txt", "probe.py"} <= set(ns["NAMES"])
