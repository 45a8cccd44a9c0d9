"""Spawn-mode multiprocessing from code zrun runs: a module from a zip, and an archive's __main__.py.

CPython's spawn children rebuild the parent's main module from
``__main__.__spec__.name`` but skip ``__main__``, so a Pool in a zipapp's
``__main__.py`` hangs (REFERENCE §2). Every run here is a subprocess with a
timeout, so a hang fails the test instead of blocking the suite.
"""

from __future__ import annotations

import subprocess
import zipapp
from pathlib import Path

import pytest

from conftest import Launcher, write_tree, write_zip

TIMEOUT = 60

POOL = """
import multiprocessing
import os
import sys

class Box:
    def __init__(self, value):
        self.value = value

def square(x):
    return x * x

def unbox(box):
    return (box.value, os.getpid() != PARENT)

PARENT = int(os.environ.get("MP_PARENT", "0")) or os.getpid()
os.environ["MP_PARENT"] = str(PARENT)

if __name__ == "__main__":
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        print(pool.map(square, range(6)))
        print(pool.map(unbox, [Box(1), Box(2)]))
    print("args", sys.argv[1:])
"""

EXPECTED = "[0, 1, 4, 9, 16, 25]\n[(1, True), (2, True)]\nargs ['a', 'b']\n"

FILES = {
    "__main__.py": "from mp_pkg import helper\n" + POOL,
    "mp_pkg/__init__.py": "",
    "mp_pkg/helper.py": "VALUE = 1\n",
    "mp_pkg/mod.py": "from . import helper\n" + POOL,
}


def check(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.stdout == EXPECTED, result.stderr
    assert "Traceback" not in result.stderr, result.stderr


def test_module_from_zip(zrun_cli: Launcher, tmp_path: Path) -> None:
    write_zip(tmp_path / "app.zip", FILES)
    check(zrun_cli("app.zip:mp_pkg.mod", "a", "b", cwd=tmp_path, timeout=TIMEOUT))


def test_archive_main(zrun_cli: Launcher, tmp_path: Path) -> None:
    write_zip(tmp_path / "app.zip", FILES)
    check(zrun_cli("app.zip", "a", "b", cwd=tmp_path, timeout=TIMEOUT))


def test_pyz_main_with_shebang(zrun_cli: Launcher, tmp_path: Path) -> None:
    zipapp.create_archive(write_tree(tmp_path / "src", FILES), tmp_path / "app.pyz", interpreter="/usr/bin/env python3")
    check(zrun_cli(str(tmp_path / "app.pyz"), "a", "b", cwd=tmp_path / "src", timeout=TIMEOUT))


def test_directory_main(zrun_cli: Launcher, tmp_path: Path) -> None:
    write_tree(tmp_path / "app", FILES)
    check(zrun_cli("./app", "a", "b", cwd=tmp_path, timeout=TIMEOUT))


@pytest.mark.parametrize("how", ["--path", "location"])
def test_module_by_name_with_archive_first(zrun_cli: Launcher, tmp_path: Path, how: str) -> None:
    """The archive's ``mp_pkg`` wins over a same-named package in the working directory, in children too."""
    write_zip(tmp_path / "app.zip", FILES)
    write_tree(tmp_path / "shadow", {"mp_pkg/__init__.py": "raise ImportError('the shadowing mp_pkg was imported')\n"})
    args = ["--path", str(tmp_path / "app.zip"), "mp_pkg.mod"] if how == "--path" else [f"{tmp_path / 'app.zip'}:mp_pkg.mod"]
    check(zrun_cli(*args, "a", "b", cwd=tmp_path / "shadow", timeout=TIMEOUT))
