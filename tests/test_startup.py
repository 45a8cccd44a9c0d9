"""Features a plain run does not import still work when a run uses them, each in a fresh interpreter.

A plain archive run imports neither the bundle reader (:mod:`zrun.frozen`), the
namespace merger (:mod:`zrun.loading.namespaces`) nor the traceback printer
(:mod:`zrun.loading.tracebacks`); ``test_cli.test_an_archive_run_imports_only_what_it_uses``
checks that. Here each is used by a run that needs it, so the lazy import is
the path taken: in-process tests would find the module already imported.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

import zrun
from conftest import Launcher, expect_ok, write_zip


def imported(result: subprocess.CompletedProcess[str]) -> List[str]:
    return [line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")]


def timed(zrun_cli: Launcher) -> Launcher:
    """``zrun_cli`` under ``-X importtime``: stderr lists what the run imported."""
    return Launcher(zrun_cli.name, [zrun_cli.prefix[0], "-X", "importtime", *zrun_cli.prefix[1:]])


# --- tracebacks and warnings show archive source lines ------------------------------------------------

RAISES = "def fail():\n    raise ValueError('failed in the archive')\n"
EARLY_LINECACHE = "import linecache  # imported before the archive's next module is compiled\nimport lib\nlib.fail()\n"
LATE_LINECACHE = "import lib\ntry:\n    lib.fail()\nexcept ValueError:\n    import traceback\n    traceback.print_exc()\n"


@pytest.mark.parametrize("main", [EARLY_LINECACHE, LATE_LINECACHE], ids=["linecache-first", "linecache-later"])
def test_a_traceback_shows_archive_lines_whenever_linecache_arrives(zrun_cli: Launcher, tmp_path: Path, main: str) -> None:
    archive = write_zip(tmp_path / "app.zip", {"__main__.py": main, "lib.py": RAISES})
    result = zrun_cli(str(archive), cwd=tmp_path)
    assert "ValueError: failed in the archive" in result.stderr, result.stderr
    assert "    raise ValueError('failed in the archive')\n" in result.stderr, result.stderr
    assert "lib.fail()\n" in result.stderr, result.stderr


def test_an_uncaught_exception_shows_archive_lines(zrun_cli: Launcher, tmp_path: Path) -> None:
    """The CLI's own report (the traceback printer, imported only now) reads the lines linecache was given."""
    archive = write_zip(tmp_path / "app.zip", {"__main__.py": "import lib\nlib.fail()\n", "lib.py": RAISES})
    result = timed(zrun_cli)(str(archive), cwd=tmp_path)
    assert result.returncode == 1
    assert "    raise ValueError('failed in the archive')\n" in result.stderr, result.stderr
    assert "zrun.loading.tracebacks" in imported(result)


def test_a_warning_from_archive_code_shows_its_line(zrun_cli: Launcher, tmp_path: Path) -> None:
    """``warnings`` reads the line by file name alone (``linecache.getline`` with no module globals)."""
    code = "import warnings\n\nwarnings.warn('careful, archive code', UserWarning)\n"
    archive = write_zip(tmp_path / "app.zip", {"__main__.py": "import warns\n", "warns.py": code})
    result = zrun_cli(str(archive), cwd=tmp_path)
    expect_ok(result)
    assert "UserWarning: careful, archive code\n  warnings.warn('careful, archive code', UserWarning)\n" in result.stderr, result.stderr


# --- namespace packages -------------------------------------------------------------------------------

SHOW_NS = "import ns.first, ns.second\nprint(ns.first.WHERE, ns.second.WHERE, len(list(ns.__path__)))\n"


def test_a_namespace_package_across_two_archives(zrun_cli: Launcher, tmp_path: Path) -> None:
    first = write_zip(tmp_path / "first.zip", {"ns/first.py": "WHERE = 'first'\n"})
    second = write_zip(tmp_path / "second.zip", {"ns/second.py": "WHERE = 'second'\n", "shows.py": SHOW_NS})
    result = timed(zrun_cli)("--path", str(first), "--path", str(second), "-m", "shows", cwd=tmp_path)
    assert expect_ok(result) == "first second 2\n"
    assert "zrun.loading.namespaces" in imported(result)


RESOURCE = (
    "import sys\n"
    "import pkg.data\n"
    "print(type(pkg.data.__loader__).__name__)\n"
    "if sys.version_info >= (3, 10):  # 3.9's files() needs a package with an origin\n"
    "    from importlib.resources import files\n"
    "    print(files('pkg.data').joinpath('greeting.txt').read_text())\n"
)


def test_resources_of_a_namespace_package_inside_a_regular_one(zrun_cli: Launcher, tmp_path: Path) -> None:
    """``pkg.data`` is found by ``PathFinder`` through ``pkg.__path__``: the merger must be in place before that import."""
    archive = write_zip(tmp_path / "app.zip", {"pkg/__init__.py": "", "pkg/data/greeting.txt": "hi", "pkg/show.py": RESOURCE})
    result = zrun_cli(f"{archive}:pkg.show", cwd=tmp_path)
    assert expect_ok(result) == ("PortionsLoader\nhi\n" if sys.version_info >= (3, 10) else "PortionsLoader\n")


# --- pkgutil -----------------------------------------------------------------------------------------

LISTS = (
    "import pkgutil, pkg\n"
    "print(sorted((m.name, m.ispkg) for m in pkgutil.iter_modules(pkg.__path__)))\n"
    "print(sorted(m.name for m in pkgutil.walk_packages(pkg.__path__, 'pkg.')))\n"
)


@pytest.mark.parametrize("first", ["", "import pkgutil\n"], ids=["pkgutil-later", "pkgutil-first"])
def test_pkgutil_lists_archive_modules(zrun_cli: Launcher, tmp_path: Path, first: str) -> None:
    """Without any registration with pkgutil (whose default asks the finder's ``iter_modules``), imported before or after."""
    files = {
        "__main__.py": first + LISTS,
        "pkg/__init__.py": "",
        "pkg/alpha.py": "",
        "pkg/sub/__init__.py": "",
        "pkg/sub/deep.py": "",
        "pkg/data/notes.txt": "a folder without __init__: not listed",
    }
    result = zrun_cli(str(write_zip(tmp_path / "app.zip", files)), cwd=tmp_path)
    assert expect_ok(result) == "[('alpha', False), ('sub', True)]\n['pkg.alpha', 'pkg.sub', 'pkg.sub.deep']\n"


# --- bundles ------------------------------------------------------------------------------------------


def test_a_bundle_run_imports_the_bundle_reader_a_zip_run_does_not(zrun_cli: Launcher, tmp_path: Path) -> None:
    files = {"app/__init__.py": "", "app/main.py": "print('from the bundle')\n"}
    bundle = tmp_path / "app.zrf"
    zrun.FrozenSource.compile(zrun.MemorySource(files)).dump(bundle)
    archive = write_zip(tmp_path / "app.zip", files)
    from_bundle = timed(zrun_cli)(f"{bundle}:app.main", cwd=tmp_path)
    assert expect_ok(from_bundle) == "from the bundle\n"
    assert "zrun.frozen" in imported(from_bundle)
    from_zip = timed(zrun_cli)(f"{archive}:app.main", cwd=tmp_path)
    assert expect_ok(from_zip) == "from the bundle\n"
    assert "zrun.frozen" not in imported(from_zip)


def test_a_script_starting_like_a_bundle_is_refused_as_one(tmp_path: Path) -> None:
    """A file with the bundle signature is read as a bundle (a damaged one here), not run as a script."""
    fake = tmp_path / "fake.zrf"
    fake.write_bytes(b"ZRUNFRZ1" + b"\0" * 3)
    result = subprocess.run([sys.executable, "-m", "zrun", str(fake)], capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stderr.count("\n")) == (1, 1), result.stderr
    assert result.stderr.startswith(f"zrun: error: {fake}: "), result.stderr
