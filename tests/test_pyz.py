"""runner.pyz: zrun's CLI packed by shiv behaves like ``python -m zrun``.

The archive is built once per session by ``build_scripts/build_pyz.py`` (or
taken from ``ZRUN_TEST_PYZ``). Every run extracts into a session ``SHIV_ROOT``,
never into the user's ``~/.shiv``. Most tests run one target through both
launchers and compare what the target saw.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Dict, Iterator, List, Optional

import pytest

from conftest import Launcher, expect_ok, write_tree, write_zip

ROOT = Path(__file__).resolve().parent.parent
BUILD_SCRIPT = ROOT / "build_scripts" / "build_pyz.py"


def _load_builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_pyz", BUILD_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build_pyz = _load_builder()

BACKPORTS = build_pyz.backports_directory(ROOT)

PROBE = """\
import json, os, sys
main = sys.modules["__main__"]
print(json.dumps({
    "argv": sys.argv,
    "path0": sys.path[0],
    "name": __name__,
    "spec": __spec__.name if __spec__ else None,
    "file": __file__,
    "main_is_this_module": main.__dict__ is globals(),
    "globals": sorted(globals()),
    "archive_on_path": [entry for entry in sys.path if entry.endswith(".pyz")],
}))
"""

RESOURCES = """\
import sys
if sys.version_info < (3, 10):
    import importlib_resources as resources
else:
    import importlib.resources as resources
print(resources.files("pkg").joinpath("data.txt").read_text(), [entry.rpartition("/")[2] for entry in sys.path if "backports" in entry])
"""

POOL = """\
import multiprocessing, sys

def square(x):
    return x * x

if __name__ == "__main__":
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        print(pool.map(square, range(5)))
"""

APP = {
    "__main__.py": PROBE,
    "pkg/__init__.py": "",
    "pkg/probe.py": PROBE,
    "pkg/pool.py": POOL,
    "pkg/fail.py": "raise ValueError('boom')\n",
    "pkg/exits.py": "import sys\nsys.exit(int(sys.argv[1]))\n",
    "pkg/funcs.py": (
        "import json, sys\n\n"
        "def three():\n    return 3\n\n"
        "def main_names():\n    print(json.dumps(sorted(vars(sys.modules['__main__']))))\n"
    ),
    "pkg/child_env.py": (
        "import subprocess, sys\n"
        "code = 'import json, os; print(json.dumps(sorted(k for k in os.environ if k.startswith(\"SHIV_\"))))'\n"
        "sys.exit(subprocess.call([sys.executable, '-c', code]))\n"
    ),
    "pkg/modules.py": "import json, sys\nprint(json.dumps(sorted(m for m in sys.modules if m.partition('.')[0] == '_bootstrap')))\n",
    "pkg/child_pythonpath.py": (
        "import subprocess, sys\n"
        "sys.exit(subprocess.call([sys.executable, '-c', 'import os; print(os.environ.get(\"PYTHONPATH\"))']))\n"
    ),
    "pkg/resources.py": RESOURCES,
    "pkg/path.py": "import json, sys\nprint(json.dumps(sys.path))\n",
    # zipfile: imported by shiv's bootstrap, never by zrun's run of a zip
    "pkg/shivless.py": "import json, sys\nprint(json.dumps({'zipfile': 'zipfile' in sys.modules, 'path': sys.path}))\n",
    "pkg/data.txt": "data",
}


# --- fixtures ------------------------------------------------------------------


@pytest.fixture(scope="session")
def built_pyz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A runner.pyz built now, by the build script, as users run it."""
    if importlib.util.find_spec("shiv") is None:
        pytest.skip("shiv is not installed: pip install -e '.[build]'")
    output = tmp_path_factory.mktemp("pyz") / "runner.pyz"
    result = subprocess.run([sys.executable, str(BUILD_SCRIPT), "-o", str(output)], capture_output=True, text=True, timeout=600)
    expect_ok(result)
    return output


@pytest.fixture(scope="session")
def runner_pyz(request: pytest.FixtureRequest) -> Path:
    """``ZRUN_TEST_PYZ`` when given (CI's own build), else :func:`built_pyz`."""
    given = os.environ.get("ZRUN_TEST_PYZ")
    return Path(given).resolve() if given else request.getfixturevalue("built_pyz")


@pytest.fixture(scope="session")
def app_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding ``pkg/`` and ``app.zip`` (the same files, zipped, with a ``__main__.py``)."""
    root = tmp_path_factory.mktemp("app")
    write_tree(root, APP)
    write_zip(root / "app.zip", APP)
    return root


@pytest.fixture
def pyz(runner_pyz: Path, shiv_root: Path) -> Launcher:
    return pyz_launcher(sys.executable, runner_pyz, shiv_root)


@pytest.fixture
def module() -> Launcher:
    return Launcher("module", [sys.executable, "-m", "zrun"])


def pyz_launcher(python: str, runner: Path, shiv_root: Path) -> Launcher:
    return PyzLauncher("pyz", [python, str(runner)], {"SHIV_ROOT": str(shiv_root)})


@dataclass
class PyzLauncher(Launcher):
    """``python runner.pyz``, extracting into ``shiv_root`` rather than ``~/.shiv``."""

    extra_env: Dict[str, str] = field(default_factory=dict)

    def __call__(
        self, *args: str, cwd: Any = None, env: Optional[Dict[str, str]] = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return super().__call__(*args, cwd=cwd, env={**self.extra_env, **(env or {})}, timeout=timeout)


def observe(launcher: Launcher, *args: str, cwd: Path, env: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    observed: Dict[str, Any] = json.loads(expect_ok(launcher(*args, cwd=cwd, env=env)))
    return observed


# --- the target sees what `python -m zrun` gives it ---------------------------------

TARGETS = {
    "archive-module": ["app.zip:pkg.probe", "a", "--flag"],
    "dash-m": ["-m", "pkg.probe", "a", "--flag"],
    "archive-main": ["app.zip", "a", "--flag"],
    "script": ["pkg/probe.py", "a", "--flag"],
}


@pytest.mark.parametrize("args", TARGETS.values(), ids=TARGETS.keys())
def test_target_sees_what_python_m_zrun_gives(args: List[str], pyz: Launcher, module: Launcher, app_dir: Path) -> None:
    through_pyz = observe(pyz, *args, cwd=app_dir)
    assert through_pyz == observe(module, *args, cwd=app_dir)
    assert through_pyz["argv"][1:] == ["a", "--flag"]
    assert through_pyz["name"] == "__main__"
    assert through_pyz["main_is_this_module"]
    assert through_pyz["archive_on_path"] == []  # runner.pyz itself is gone from sys.path


def test_argv0_and_path0(pyz: Launcher, app_dir: Path) -> None:
    seen = observe(pyz, "app.zip:pkg.probe", cwd=app_dir)
    assert seen["argv"][0] == str(app_dir / "app.zip" / "pkg" / "probe.py")
    assert seen["path0"] == str(app_dir / "app.zip")
    assert observe(pyz, "-m", "pkg.probe", cwd=app_dir)["path0"] == str(app_dir)


def test_no_runner_globals_leak_into_the_target(pyz: Launcher, module: Launcher, app_dir: Path) -> None:
    names = set(observe(pyz, "app.zip", cwd=app_dir)["globals"])
    # the module names are this version's (no __cached__ on 3.15, __annotations__ in __main__ before 3.14)
    assert names == set(observe(module, "app.zip", cwd=app_dir)["globals"])
    assert {"__builtins__", "__doc__", "__file__", "__loader__", "__name__", "__package__", "__spec__"} <= names
    assert {name for name in names if not name.startswith("__")} == {"json", "os", "sys", "main"}


def test_a_function_target_sees_no_shiv_globals_in_main(pyz: Launcher, app_dir: Path) -> None:
    """A ``module:function`` target runs under the runner's own ``__main__``, which shiv's ``__main__.py`` filled."""
    names = json.loads(expect_ok(pyz("app.zip:pkg.funcs:main_names", cwd=app_dir)))
    assert "__spec__" in names
    assert [name for name in names if not name.startswith("__")] == []  # shiv's __main__.py left _bootstrap


def test_shiv_bootstrap_modules_are_not_the_targets(pyz: Launcher, app_dir: Path) -> None:
    assert json.loads(expect_ok(pyz("app.zip:pkg.modules", cwd=app_dir))) == []


def test_a_shiv_app_as_target_uses_its_own_bootstrap(pyz: Launcher, module: Launcher, tmp_path: Path) -> None:
    files = {"__main__.py": "import _bootstrap\n_bootstrap.bootstrap()\n", "_bootstrap/__init__.py": "def bootstrap():\n    print('own')\n"}
    write_zip(tmp_path / "other.pyz", files)
    assert expect_ok(module("other.pyz", cwd=tmp_path)) == "own\n"
    assert expect_ok(pyz("other.pyz", cwd=tmp_path)) == "own\n"


# --- exit status and errors -------------------------------------------------------

EXITS = {
    "sys.exit(7)": (["app.zip:pkg.exits", "7"], 7),
    "sys.exit(0)": (["app.zip:pkg.exits", "0"], 0),
    "function returns 3": (["app.zip:pkg.funcs:three"], 3),
    "uncaught exception": (["app.zip:pkg.fail"], 1),
    "no such module": (["app.zip:pkg.nope"], 1),
    "usage error": (["--bogus"], 2),
}


@pytest.mark.parametrize("args,status", EXITS.values(), ids=EXITS.keys())
def test_exit_status_is_the_targets(args: List[str], status: int, pyz: Launcher, module: Launcher, app_dir: Path) -> None:
    through_pyz, through_module = pyz(*args, cwd=app_dir), module(*args, cwd=app_dir)
    assert through_pyz.returncode == through_module.returncode == status
    assert through_pyz.stdout == through_module.stdout
    assert through_pyz.stderr.splitlines()[-1:] == through_module.stderr.splitlines()[-1:]


def test_traceback_starts_at_the_users_code(pyz: Launcher, app_dir: Path) -> None:
    result = pyz("app.zip:pkg.fail", cwd=app_dir)
    assert result.returncode == 1
    assert "ValueError: boom" in result.stderr
    assert "_bootstrap" not in result.stderr and f"{os.sep}zrun{os.sep}" not in result.stderr


def test_help_and_version_are_the_clis(pyz: Launcher, module: Launcher, tmp_path: Path, runner_pyz: Path, shiv_root: Path) -> None:
    """The same text, but for the program's name and where zrun runs from (the extraction)."""
    program = f"{os.path.basename(sys.executable)} -m zrun"
    assert expect_ok(pyz("--help", cwd=tmp_path)) == expect_ok(module("--help", cwd=tmp_path)).replace(program, runner_pyz.name)
    ours, theirs = expect_ok(pyz("--version", cwd=tmp_path)), expect_ok(module("--version", cwd=tmp_path))
    with zipfile.ZipFile(runner_pyz) as archive:
        build_id = json.loads(archive.read("environment.json"))["build_id"]
    extracted = shiv_root / f"{runner_pyz.name}_{build_id}" / "site-packages" / "zrun"
    assert ours == theirs.replace(str(ROOT / "src" / "zrun"), str(extracted))


def test_unwritable_home_says_what_to_set(runner_pyz: Path, tmp_path: Path) -> None:
    """No traceback from shiv's bootstrap: one line naming the folder and SHIV_ROOT."""
    (tmp_path / "file").write_text("")
    home = tmp_path / "file" / "home"  # below a regular file: nothing can be created there, even by root
    env = {key: value for key, value in os.environ.items() if key != "SHIV_ROOT"}
    command = [sys.executable, str(runner_pyz), "--version"]
    result = subprocess.run(command, env={**env, "HOME": str(home)}, capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"{runner_pyz.name}: error: cannot extract itself to {home / '.shiv'}: Not a directory ({home / '.shiv'}); "
        "set SHIV_ROOT to a writable directory (for example SHIV_ROOT=/tmp/shiv-$USER)\n"
    )
    unwritable = subprocess.run(
        [sys.executable, str(runner_pyz), "--version"], env={**env, "SHIV_ROOT": str(home)}, capture_output=True, text=True, timeout=60
    )
    assert unwritable.returncode == 1 and unwritable.stderr.startswith(f"{runner_pyz.name}: error: cannot extract itself to {home}: ")


def test_a_closed_pipe_is_no_extraction_error(runner_pyz: Path, shiv_root: Path) -> None:
    """Only extraction failures get the SHIV_ROOT advice: other OSErrors are not dressed up as one."""
    reader, writer = os.pipe()
    os.close(reader)
    try:
        result = subprocess.run([sys.executable, str(runner_pyz), "--help"], stdout=writer, stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(writer)
    assert "SHIV_ROOT" not in result.stderr and "cannot extract" not in result.stderr


def test_cache_clear_keeps_the_running_extraction(runner_pyz: Path, tmp_path: Path) -> None:
    """runner.pyz's ``cache clear`` removes other builds' extractions, never the one it runs from."""
    root = tmp_path / "shiv"
    other = root / f"runner.pyz_{'ab' * 32}"
    (other / "site-packages" / "zrun").mkdir(parents=True)
    (other / "site-packages" / "zrun" / "pyz.py").write_text("")
    (root / f".{other.name}_lock").write_text("")
    runner = pyz_launcher(sys.executable, runner_pyz, root)
    env = {"ZRUN_CACHE_DIR": str(tmp_path / "cache")}
    out = expect_ok(runner("cache", "clear", cwd=tmp_path, env=env))
    assert out.splitlines()[-1].startswith(f"removed 1 runner.pyz extractions from {root}, ")
    (mine,) = [path for path in root.iterdir() if path.is_dir()]
    assert mine.name.startswith(f"{runner_pyz.name}_") and not other.exists() and not (root / f".{other.name}_lock").exists()
    listed = expect_ok(runner("cache", "info", cwd=tmp_path, env=env)).splitlines()[-1]
    assert listed.startswith(f"  {mine.name[:-52]} ") and listed.endswith("last used 0 days ago, running now")


# --- environment and child processes -----------------------------------------------

RUNNER_SETTINGS = {
    "SHIV_FORCE_EXTRACT": "0",
    "SHIV_COMPILE_PYC": "0",
    "SHIV_COMPILE_WORKERS": "1",
    "SHIV_EXTEND_PYTHONPATH": "0",
}


def child_shiv_variables(pyz: Launcher, app_dir: Path, env: Dict[str, str]) -> List[str]:
    names: List[str] = json.loads(expect_ok(pyz("app.zip:pkg.child_env", cwd=app_dir, env=env)))
    return names


def test_shiv_entry_point_variables_do_not_reach_children(pyz: Launcher, app_dir: Path) -> None:
    """A SHIV_ENTRY_POINT left behind would hijack every shiv app the target starts."""
    env = {"SHIV_ENTRY_POINT": "zrun.cli.main:main", "SHIV_MODULE": "zrun.cli.main:main"}
    assert child_shiv_variables(pyz, app_dir, env) == ["SHIV_ROOT"]


def test_shiv_runner_settings_do_not_reach_children(pyz: Launcher, app_dir: Path) -> None:
    """Settings for the runner's extraction are the runner's; SHIV_ROOT (where caches live) stays."""
    assert child_shiv_variables(pyz, app_dir, RUNNER_SETTINGS) == ["SHIV_ROOT"]


def child_pythonpath(pyz: Launcher, app_dir: Path, env: Dict[str, str]) -> Optional[str]:
    lines = expect_ok(pyz("app.zip:pkg.child_pythonpath", cwd=app_dir, env=env)).splitlines()
    return None if lines == ["None"] else lines[0]


@pytest.mark.parametrize("pythonpath", [None, "elsewhere"])
def test_extended_pythonpath_does_not_reach_children(pythonpath: Optional[str], pyz: Launcher, app_dir: Path) -> None:
    """``SHIV_EXTEND_PYTHONPATH`` puts the runner's site-packages on ``PYTHONPATH`` for its children; the target's get theirs."""
    env = {"SHIV_EXTEND_PYTHONPATH": "1", **({"PYTHONPATH": str(app_dir / pythonpath)} if pythonpath else {})}
    expected = str(app_dir / pythonpath) if pythonpath else None
    assert child_pythonpath(pyz, app_dir, env) == expected


def test_prepended_path_comes_after_the_targets_entry(pyz: Launcher, module: Launcher, app_dir: Path) -> None:
    """``SHIV_PREPEND_PYTHONPATH`` goes before the archive; the target's entry must still replace the archive."""
    prepended = str(app_dir / "prepended")
    seen = observe(pyz, "app.zip:pkg.probe", "a", cwd=app_dir, env={"SHIV_PREPEND_PYTHONPATH": prepended})
    assert seen == observe(module, "app.zip:pkg.probe", "a", cwd=app_dir)
    listed = json.loads(expect_ok(pyz("app.zip:pkg.path", cwd=app_dir, env={"SHIV_PREPEND_PYTHONPATH": prepended})))
    assert listed[:2] == [str(app_dir / "app.zip"), prepended]


@pytest.mark.parametrize("args", [["app.zip:pkg.pool"], ["-m", "pkg.pool"]], ids=["archive-module", "dash-m"])
def test_spawn_pool(args: List[str], pyz: Launcher, app_dir: Path) -> None:
    assert expect_ok(pyz(*args, cwd=app_dir, timeout=120)) == "[0, 1, 4, 9, 16]\n"


def test_spawn_pool_from_archive_main(pyz: Launcher, tmp_path: Path) -> None:
    """Functions defined in a zipapp's ``__main__.py`` reach spawned children (REFERENCE §2)."""
    write_zip(tmp_path / "pool.pyz", {"__main__.py": POOL})
    assert expect_ok(pyz("pool.pyz", cwd=tmp_path, timeout=120)) == "[0, 1, 4, 9, 16]\n"


# --- one file for every interpreter -------------------------------------------------


def find_python(minor: int) -> Optional[str]:
    """The first CPython 3.<minor> found where ``.ci/run`` looks for it."""
    candidates = [shutil.which(f"python3.{minor}")]
    candidates += sorted(str(path) for path in Path.home().glob(f".pyenv/versions/3.{minor}.*/bin/python3.{minor}"))
    candidates += [f"/usr/local/bin/python3.{minor}", f"/usr/bin/python3.{minor}"]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            check = subprocess.run([candidate, "-c", "import sys; assert sys.implementation.name == 'cpython'"], capture_output=True)
            if check.returncode == 0:
                return candidate
    return None


@pytest.mark.parametrize("minor", [9, 10, 11, 12, 13], ids=lambda minor: f"3.{minor}")
def test_runs_on_every_supported_interpreter(minor: int, runner_pyz: Path, shiv_root: Path, app_dir: Path) -> None:
    """One archive, whichever interpreter built it; the interpreters share one extraction.

    Bytecode writing is on: each interpreter adds its own ``cpython-3x`` pycs to
    the shared cache, and the others' must not disturb it (second run).
    """
    python = sys.executable if sys.version_info[:2] == (3, minor) else find_python(minor)
    if python is None:
        pytest.skip(f"no CPython 3.{minor} on this machine")
    launcher = pyz_launcher(python, runner_pyz, shiv_root)
    for _ in range(2):
        result = launcher("app.zip:pkg.probe", "x", cwd=app_dir, env={"PYTHONDONTWRITEBYTECODE": ""})
        seen = json.loads(expect_ok(result))
        assert seen["argv"] == [str(app_dir / "app.zip" / "pkg" / "probe.py"), "x"]
        assert seen["path0"] == str(app_dir / "app.zip")


def test_archive_holds_sources_only(runner_pyz: Path) -> None:
    """No version-specific bytecode inside, and no compiling on extraction: import writes what runs (shiv's default)."""
    with zipfile.ZipFile(runner_pyz) as archive:
        names = archive.namelist()
        environment = json.loads(archive.read("environment.json"))
        stored = {info.filename for info in archive.infolist() if info.compress_type == zipfile.ZIP_STORED}
    assert not [name for name in names if name.endswith(".pyc") or "__pycache__" in name]
    expected = {"site-packages/zrun/cli/main.py", "site-packages/zrun/pyz.py", f"{BACKPORTS}/importlib_resources/__init__.py"}
    assert expected <= set(names)
    assert not [name for name in names if name.startswith("site-packages/bin/") or name.endswith("direct_url.json")]
    assert not [name for name in names if "/tests/" in name]
    assert not [name for name in names if BACKPORTS in name and not name.startswith(f"{BACKPORTS}/")]  # shiv would extract them
    assert environment["entry_point"] == build_pyz.ENTRY_POINT == "zrun.pyz:main"
    assert environment["reproducible"] and not environment["compile_pyc"]
    assert {"__main__.py", "environment.json"} <= stored  # read on every run: no zlib needed to start


def pycs(extraction: Path, package: str) -> Dict[str, bool]:
    """Whether each ``*.py`` of ``package`` in ``extraction`` has bytecode for this interpreter."""
    folder = extraction / "site-packages" / package
    tag = sys.implementation.cache_tag
    return {
        path.relative_to(folder).as_posix(): (path.parent / "__pycache__" / f"{path.stem}.{tag}.pyc").is_file()
        for path in folder.rglob("*.py")
    }


def test_first_run_writes_bytecode_for_what_runs_only(runner_pyz: Path, tmp_path: Path, app_dir: Path) -> None:
    """The first run extracts zrun and compiles what it imports, as any import does; not ``cache`` admin, nor 3.9's backports."""
    root = tmp_path / "cache"
    expect_ok(pyz_launcher(sys.executable, runner_pyz, root)("app.zip:pkg.probe", cwd=app_dir, env={"PYTHONDONTWRITEBYTECODE": ""}))
    (extraction,) = root.glob(f"{runner_pyz.name}_*")
    zrun_pycs = pycs(extraction, "zrun")
    assert zrun_pycs["cli/main.py"] and zrun_pycs["pyz.py"] and zrun_pycs["engine/run.py"]
    assert not zrun_pycs["cli/cacheadmin.py"]
    assert not (extraction / "site-packages" / BACKPORTS).exists()  # 3.9 imports them from the archive


def test_shiv_compile_pyc_compiles_everything_on_extraction(runner_pyz: Path, tmp_path: Path, app_dir: Path) -> None:
    """``SHIV_COMPILE_PYC=1``: shiv's compileall of the whole extraction, for a cache no one may write to later."""
    root = tmp_path / "cache"
    env = {"PYTHONDONTWRITEBYTECODE": "1", "SHIV_COMPILE_PYC": "1", "SHIV_COMPILE_WORKERS": "1"}
    expect_ok(pyz_launcher(sys.executable, runner_pyz, root)("app.zip:pkg.probe", cwd=app_dir, env=env))
    (extraction,) = root.glob(f"{runner_pyz.name}_*")
    assert [name for name, compiled in pycs(extraction, "zrun").items() if not compiled] == []


# --- later runs: past shiv's bootstrap ------------------------------------------------


def shivless(pyz: Launcher, app_dir: Path, env: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    """What ``pkg.shivless`` saw: whether shiv's bootstrap ran (it imports ``zipfile``), and ``sys.path``."""
    return observe(pyz, "app.zip:pkg.shivless", cwd=app_dir, env=env)


def test_later_runs_skip_shivs_bootstrap_and_see_the_same_path(runner_pyz: Path, tmp_path: Path, app_dir: Path) -> None:
    """The run that extracts goes through shiv; the next ones do not, and give the target the same ``sys.path``."""
    pyz = pyz_launcher(sys.executable, runner_pyz, tmp_path / "cache")
    first, later = shivless(pyz, app_dir), shivless(pyz, app_dir)
    assert first["zipfile"] and not later["zipfile"]
    assert later["path"] == first["path"]


UNUSUAL = {
    "force-extract": {"SHIV_FORCE_EXTRACT": "1"},
    "extend-pythonpath-off": {"SHIV_EXTEND_PYTHONPATH": "0"},
    "prepend-pythonpath": {"SHIV_PREPEND_PYTHONPATH": "elsewhere"},
    "interpreter-off": {"SHIV_INTERPRETER": ""},
}


@pytest.mark.parametrize("env", UNUSUAL.values(), ids=UNUSUAL.keys())
def test_shiv_settings_take_shivs_bootstrap(env: Dict[str, str], runner_pyz: Path, shiv_root: Path, app_dir: Path) -> None:
    """Any ``SHIV_*`` setting that acts after extraction goes to shiv itself, even on a later run."""
    pyz = pyz_launcher(sys.executable, runner_pyz, shiv_root)
    shivless(pyz, app_dir)
    assert shivless(pyz, app_dir, env)["zipfile"]


def test_indirect_shiv_root_takes_shivs_bootstrap(runner_pyz: Path, tmp_path: Path, app_dir: Path) -> None:
    """``SHIV_ROOT=$NAME`` (shiv reads the folder from ``NAME``) is shiv's to resolve."""
    pyz = pyz_launcher(sys.executable, runner_pyz, tmp_path / "unused")
    env = {"SHIV_ROOT": "$ZRUN_TEST_ROOT", "ZRUN_TEST_ROOT": str(tmp_path / "real")}
    assert shivless(pyz, app_dir, env)["zipfile"] and shivless(pyz, app_dir, env)["zipfile"]
    assert list((tmp_path / "real").glob(f"{runner_pyz.name}_*")) and not (tmp_path / "unused").exists()


@pytest.mark.parametrize("where", ["extraction", "site-packages"])
def test_extraction_others_can_write_takes_shivs_bootstrap(where: str, runner_pyz: Path, tmp_path: Path, app_dir: Path) -> None:
    """The fast path trusts only what zrun's own cache would: a folder of this user's, writable by no one else."""
    pyz = pyz_launcher(sys.executable, runner_pyz, tmp_path / "cache")
    shivless(pyz, app_dir)
    (extraction,) = (tmp_path / "cache").glob(f"{runner_pyz.name}_*")
    (extraction if where == "extraction" else extraction / "site-packages").chmod(0o777)
    assert shivless(pyz, app_dir)["zipfile"]


def test_a_link_to_the_archive_uses_its_extraction(runner_pyz: Path, tmp_path: Path, app_dir: Path) -> None:
    """shiv names the folder after the resolved archive: a symbolic link shares it, and the fast path finds it."""
    link = tmp_path / "link.pyz"
    link.symlink_to(runner_pyz)
    pyz = pyz_launcher(sys.executable, link, tmp_path / "cache")
    assert shivless(pyz, app_dir)["zipfile"] and not shivless(pyz, app_dir)["zipfile"]
    assert [path.name.partition("_")[0] for path in (tmp_path / "cache").iterdir() if path.is_dir()] == [runner_pyz.name]


@pytest.mark.parametrize("minor", [9, 10, 11, 12, 13], ids=lambda minor: f"3.{minor}")
def test_resources_and_backports_on_every_interpreter(minor: int, runner_pyz: Path, shiv_root: Path, app_dir: Path) -> None:
    """3.9 gets the ``importlib_resources`` backport zrun depends on there; 3.10+ do not see it, as after a pip install."""
    python = sys.executable if sys.version_info[:2] == (3, minor) else find_python(minor)
    if python is None:
        pytest.skip(f"no CPython 3.{minor} on this machine")
    result = pyz_launcher(python, runner_pyz, shiv_root)("app.zip:pkg.resources", cwd=app_dir)
    assert expect_ok(result) == f"data {[BACKPORTS] if minor == 9 else []}\n"


def test_extracts_into_shiv_root(runner_pyz: Path, tmp_path: Path, app_dir: Path) -> None:
    root = tmp_path / "cache"
    expect_ok(pyz_launcher(sys.executable, runner_pyz, root)("app.zip:pkg.probe", cwd=app_dir))
    with zipfile.ZipFile(runner_pyz) as archive:
        build_id = json.loads(archive.read("environment.json"))["build_id"]
    assert (root / f"{runner_pyz.name}_{build_id}" / "site-packages" / "zrun" / "cli" / "main.py").is_file()


# --- the build ---------------------------------------------------------------------


def test_build_is_reproducible(built_pyz: Path, tmp_path: Path) -> None:
    again = build_pyz.build(tmp_path / "elsewhere" / "runner.pyz")
    assert again.read_bytes() == built_pyz.read_bytes()


def test_timestamps_come_from_source_date_epoch_or_commit(built_pyz: Path) -> None:
    epoch = build_pyz.source_date_epoch()
    if epoch is None:
        pytest.skip("neither SOURCE_DATE_EPOCH nor a git commit date is available")
    expected = time.gmtime(int(epoch))[:6]
    with zipfile.ZipFile(built_pyz) as archive:
        stamps = {info.date_time for info in archive.infolist()}
    assert stamps == {(*expected[:5], expected[5] // 2 * 2)}  # zip stores seconds / 2


def test_build_script_help() -> None:
    result = subprocess.run([sys.executable, str(BUILD_SCRIPT), "--help"], capture_output=True, text=True)
    assert "--output" in expect_ok(result) and "SOURCE_DATE_EPOCH" in result.stdout


def test_build_without_shiv_says_how_to_get_it(tmp_path: Path) -> None:
    """``python -S``: no site-packages, so no shiv."""
    result = subprocess.run([sys.executable, "-S", str(BUILD_SCRIPT), "-o", str(tmp_path / "runner.pyz")], capture_output=True, text=True)
    assert result.returncode == 1
    assert "pip install 'zrun[build]'" in result.stderr
    assert not (tmp_path / "runner.pyz").exists()


@pytest.fixture(autouse=True, scope="module")
def _no_stray_output() -> Iterator[None]:
    """Builds under test never touch the checkout's dist/."""
    before = sorted((ROOT / "dist").glob("*")) if (ROOT / "dist").is_dir() else []
    yield
    after = sorted((ROOT / "dist").glob("*")) if (ROOT / "dist").is_dir() else []
    assert after == before
