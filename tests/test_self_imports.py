"""Archives cannot replace zrun's own code: what zrun imports for itself never comes from a source.

Each scenario runs in a fresh interpreter (``-S``, zrun from ``src``), where the
modules zrun imports lazily (``_blake2``, ``struct``, ...) are not loaded yet:
the first import is the one a hostile archive could answer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Dict

import pytest

import zrun
from conftest import SRC, Launcher, expect_ok, write_zip

#: A module the archive offers under a stdlib name: importing it is loud and fatal.
FAKE = "import sys\nsys.stderr.write('FAKE {} IMPORTED\\n')\nraise SystemExit(97)\n"


def python(*args: str, cwd: Path, path: str = "") -> subprocess.CompletedProcess[str]:
    """``python ARGS`` in ``cwd``; with ``path``, under ``-S`` with only that on ``sys.path``: nothing else imported first."""
    env = dict(os.environ, PYTHONPATH=path) if path else dict(os.environ)
    command = [sys.executable, "-S", *args] if path else [sys.executable, *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def fresh(code: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -S -c code`` with zrun from ``src``."""
    return python("-c", code, *args, cwd=cwd, path=SRC)


def zrun_wheel(path: Path) -> Path:
    """A zrun wheel, as ``pip wheel --no-deps .`` makes it: this zrun's package and its metadata."""
    package = Path(zrun.__file__).parent
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as wheel:
        for file in [*sorted(package.rglob("*.py")), package / "py.typed"]:
            wheel.write(file, f"zrun/{file.relative_to(package).as_posix()}")
        wheel.writestr("zrun-0.1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: zrun\nVersion: 0.1.0\n")
        wheel.writestr("zrun-0.1.0.dist-info/entry_points.txt", "[console_scripts]\nzrun = zrun.cli.main:main\n")
    return path


@pytest.mark.parametrize("target", ["zrun", "zrun.cli.main:main", "zrun.__main__"])
def test_a_zrun_wheel_as_target_is_refused_in_one_line(tmp_path: Path, target: str, zrun_cli: Launcher) -> None:
    wheel = zrun_wheel(tmp_path / "zrun-0.1.0-py3-none-any.whl")
    result = zrun_cli(f"{wheel.name}:{target}", "--version", cwd=tmp_path)
    assert result.returncode == 1, result
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("zrun: error: "), result.stderr
    assert "another copy of zrun" in lines[0] and wheel.name in lines[0] and "partially initialized" not in lines[0]


def test_the_suggested_way_runs_the_wheels_zrun(tmp_path: Path) -> None:
    wheel = zrun_wheel(tmp_path / "zrun-0.1.0-py3-none-any.whl")
    out = expect_ok(python("-m", "zrun", "--version", cwd=tmp_path, path=str(wheel)))
    assert out.startswith(f"zrun 0.1.0 from {wheel}{os.sep}zrun ")  # the wheel's own zrun ran


def test_a_directory_holding_the_running_zrun_runs_it(tmp_path: Path) -> None:
    """``src:zrun`` from this checkout is the running zrun's own files (an editable install): it runs."""
    if Path(zrun.__file__).resolve().parent != (Path(SRC) / "zrun").resolve():
        pytest.skip("zrun is not installed from this checkout's src (not an editable install)")
    result = python("-m", "zrun", f"{SRC}:zrun", "--version", cwd=tmp_path)
    assert expect_ok(result).startswith(f"zrun {zrun.__version__} from {Path(zrun.__file__).parent} ")


def test_library_run_of_a_zrun_wheel_raises_typed_and_changes_nothing(tmp_path: Path, clean_sys: object) -> None:
    wheel = zrun_wheel(tmp_path / "zrun.whl")
    modules = dict(sys.modules)
    with pytest.raises(zrun.NotRunnable, match="another copy of zrun"):
        zrun.run(f"{wheel}:zrun.cli.main:main", isolate=True)
    assert all(sys.modules.get(name) is module for name, module in modules.items() if name.startswith("zrun"))


#: Built-in modules are found before any archive, so no archive can shadow them (CPython's tests skip too).
needs_blake2_file = pytest.mark.skipif("_blake2" in sys.builtin_module_names, reason="_blake2 is built into this interpreter")
needs_zlib_file = pytest.mark.skipif("zlib" in sys.builtin_module_names, reason="zlib is built into this interpreter")


@needs_blake2_file
def test_sources_cannot_hand_zrun_its_blake2(tmp_path: Path) -> None:
    """The cache's digest imports ``_blake2`` lazily, first while the run's archive is searched first."""
    fakes = {f"{name}.py": FAKE.format(name) for name in ("_blake2", "hashlib")}
    archive = write_zip(tmp_path / "app.zip", {**fakes, "app.py": "print('app ran')\n"})
    code = (
        "import sys, zrun\n"
        "assert '_blake2' not in sys.modules and 'hashlib' not in sys.modules, 'already loaded: the test proves nothing'\n"
        "zrun.run(sys.argv[1] + ':app')\n"
        "origin = sys.modules['_blake2'].__spec__.origin\n"
        "assert 'app.zip' not in str(origin), origin\n"
        "print('ok')\n"
    )
    result = fresh(code, str(archive), cwd=tmp_path)
    assert expect_ok(result) == "app ran\nok\n"


@needs_blake2_file
def test_cli_run_of_an_archive_with_a_fake_blake2(tmp_path: Path, zrun_cli: Launcher) -> None:
    archive = write_zip(tmp_path / "app.zip", {"_blake2.py": FAKE.format("_blake2"), "__main__.py": "print('main ran')\n"})
    result = zrun_cli(str(archive), cwd=tmp_path, env={"ZRUN_CACHE_DIR": str(tmp_path / "cache")})  # cold: digests computed
    assert expect_ok(result) == "main ran\n"
    assert "FAKE" not in result.stderr


def test_zrun_modules_imported_during_a_run_get_the_real_stdlib(tmp_path: Path) -> None:
    """zrun's archive reader is first imported by a nested run, while the outer run's source offers ``struct``."""
    inner = write_zip(tmp_path / "inner.zip", {"inner.py": "import struct\nprint('inner', struct.calcsize('<I'))\n"})
    outer = {"struct.py": FAKE.format("struct"), "outer.py": "import sys, zrun\nzrun.run(sys.argv[1] + ':inner')\n"}
    code = (
        "import json, sys, zrun\n"
        "assert 'zrun.zip.index' not in sys.modules\n"
        "sys.modules.pop('struct', None)\n"
        "zrun.run('outer', [sys.argv[1]], sources=[zrun.MemorySource(json.loads(sys.argv[2]))])\n"
        "print('struct from', sys.modules['struct'].__spec__.origin != None)\n"
    )
    result = fresh(code, str(inner), json.dumps(outer), cwd=tmp_path)
    assert expect_ok(result) == "inner 4\nstruct from True\n"
    assert "FAKE" not in result.stderr


@needs_zlib_file
def test_a_fake_deflated_zlib_on_sys_path_under_install(tmp_path: Path) -> None:
    """CPython's test_zipimport.testAFakeZlib: the zip's zlib.py is read with the real zlib, and imports."""
    archive = write_zip(tmp_path / "fakezlib.zip", {"zlib.py": "FAKE = 'from the zip'\n"})
    code = (
        "import sys, zrun\n"
        "zrun.install()\n"
        "sys.modules.pop('zlib', None)\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "import zlib\n"
        "print(zlib.FAKE, type(zlib.__loader__).__module__)\n"
    )
    for _ in range(2):  # a cold cache stores the code, a warm one loads it: both read through zlib
        result = fresh(code, str(archive), cwd=tmp_path)
        assert expect_ok(result) == "from the zip zrun.loading.zipimporter\n"  # zrun's loader read it


def test_path_hook_digest_does_not_recurse(tmp_path: Path) -> None:
    """test_zipimport_support.test_doctest_issue4197: an index-cached zip on sys.path under install().

    Indexing a large archive computes a digest (``_blake2``); imported through
    ``sys.path``, it asked the hook about the same archive again, until RecursionError.
    """
    files: Dict[str, str] = {f"pad/m{i}.py": f"X = {i}\n" for i in range(1200)}  # index-cached size
    files["hello.py"] = "WHO = 'zip'\n"
    archive = write_zip(tmp_path / "big.zip", files, compression=zipfile.ZIP_STORED)
    assert archive.stat().st_size >= 78_000
    code = (
        "import sys, zrun, zrun.zip.source\n"  # a host that has read archives before
        "zrun.install()\n"
        "assert '_blake2' not in sys.modules\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "import hello\n"
        "print(hello.WHO, type(hello.__loader__).__module__)\n"
    )
    result = fresh(code, str(archive), cwd=tmp_path)
    assert expect_ok(result) == "zip zrun.loading.zipimporter\n"


def test_zrun_itself_from_a_zip_on_sys_path_under_install(tmp_path: Path) -> None:
    """zrun imported from a wheel on sys.path: install() must not hand its own folder to zrun's loader."""
    wheel = zrun_wheel(tmp_path / "zrun.whl")
    app = write_zip(tmp_path / "app.zip", {"app.py": "print('app from zip')\n"})
    code = (
        "import sys, zrun\n"
        "assert zrun.__file__.startswith(sys.argv[1]), zrun.__file__\n"
        "zrun.install()\n"
        "sys.path.insert(0, sys.argv[2])\n"
        "import app\n"
        "from zrun.loading import extensions as extract, resources\n"
        "print(type(extract.__loader__).__module__, type(app.__loader__).__module__)\n"
    )
    result = python("-c", code, str(wheel), str(app), cwd=tmp_path, path=str(wheel))
    assert expect_ok(result) == "app from zip\nzipimport zrun.loading.zipimporter\n"  # zrun's own code stays zipimport's


def test_stdlib_helper_ignores_a_fake_in_sys_modules(clean_sys: object) -> None:
    from types import ModuleType

    from zrun.stdlib import stdlib

    fake = sys.modules["colorsys"] = ModuleType("colorsys")
    real = stdlib("colorsys")
    assert sys.modules["colorsys"] is fake  # the name belongs to whoever put it there
    assert real.__spec__.origin.endswith(os.path.join("", "colorsys.py"))
    assert stdlib("colorsys") is real  # once found, kept
    with pytest.raises(ModuleNotFoundError, match="in the standard library"):
        stdlib("zrun_no_such_stdlib_module")
