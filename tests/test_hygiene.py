"""Resource hygiene: nothing left open, running or written after a run, good or bad.

File descriptors are counted in ``/proc/self/fd`` (Linux; elsewhere those
tests skip). ``ResourceWarning``s are caught in-process with every warning
recorded, and out of process by running the CLI under ``-W error -X dev``.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import io
import os
import sys
import threading
import warnings
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List

import pytest

import hostile
import zrun
import zrun.zip.archive
import zrun.zip.files
from conftest import Launcher, write_zip
from zrun.zip.archive import Archive, clear_cache

PROC_FD = Path("/proc/self/fd")
needs_proc = pytest.mark.skipif(not PROC_FD.is_dir(), reason="counts descriptors in /proc/self/fd")

PACKAGE = {
    "__main__.py": "import sys\nsys.stdout.write('main\\n')\n",
    "pkg/__init__.py": "",
    "pkg/helper.py": "WORD = 'ok'\n",
    "pkg/mod.py": "import sys\nfrom . import helper\nsys.stdout.write(helper.WORD + '\\n')\n",
    "pkg/boom.py": "from . import helper\nraise RuntimeError('boom')\n",
    "pkg/data.txt": "payload",
}


def open_fds() -> Dict[str, str]:
    """Descriptor number -> what it points at."""
    found = {}
    for fd in os.listdir(PROC_FD):
        with contextlib.suppress(OSError):  # the listing's own descriptor is gone by now
            found[fd] = os.readlink(PROC_FD / fd)
    return found


@contextlib.contextmanager
def no_new_fds() -> Iterator[None]:
    # The cache root's directory descriptor is opened at the first use and kept for
    # the process's life (zrun.cache.root); open it first so the runs' own count.
    from zrun.cache import store as cache

    cache.root()
    gc.collect()
    before = open_fds()
    yield
    gc.collect()
    after = open_fds()
    leaked = {fd: where for fd, where in after.items() if before.get(fd) != where}
    assert leaked == {}, f"descriptors left open: {leaked}"


@contextlib.contextmanager
def no_resource_warnings() -> Iterator[None]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        yield
        gc.collect()
    found = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert found == []


@pytest.fixture(autouse=True)
def _fresh_index() -> Iterator[None]:
    clear_cache()
    yield
    clear_cache()


def quietly(call: Callable[[], Any]) -> Any:
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            return call()
        except Exception as exc:
            return exc


def runs(archive: Path) -> List[Callable[[], Any]]:
    return [
        lambda: zrun.run(f"{archive}:pkg.mod"),
        lambda: zrun.run(f"{archive}:pkg.boom"),
        lambda: zrun.run(f"{archive}:pkg.missing"),
        lambda: zrun.run(str(archive)),
        lambda: zrun.run("pkg.mod", sources=[str(archive)], isolate=True),
        lambda: zrun.run_module("pkg.mod", sources=[str(archive)]),
        lambda: zrun.run_path(str(archive)),
        lambda: zrun.run("pkg.mod", sources=[archive.read_bytes()], isolate=True),
        lambda: zrun.run_module("pkg.mod", sources=[zrun.MemorySource(PACKAGE)]),
    ]


@needs_proc
def test_no_descriptor_left_after_runs(tmp_path: Path, clean_sys: Any) -> None:
    archive = write_zip(tmp_path / "app.zip", PACKAGE)
    with no_new_fds(), no_resource_warnings():
        for call in runs(archive):
            quietly(call)


@needs_proc
def test_no_descriptor_left_after_hostile_archives(tmp_path: Path, clean_sys: Any) -> None:
    cases = [case for case in hostile.CASES if not (case.skip or case.known_bug or case.between)]
    built = []
    for index, case in enumerate(cases):
        folder = tmp_path / str(index)
        folder.mkdir()
        built.append(case.build(folder))
    everything = zrun.SysState(modules=True)
    try:
        with no_new_fds(), no_resource_warnings():
            for location in built:
                quietly(lambda where=location: zrun.run(f"{where}:{hostile.TARGET}"))
    finally:
        everything.restore()


@needs_proc
def test_archive_is_closed_when_a_run_fails(tmp_path: Path, clean_sys: Any) -> None:
    """Not just the count: no descriptor points at the archive, mid-run or after."""
    archive = write_zip(tmp_path / "app.zip", {**PACKAGE, "pkg/check.py": "import os\nOPEN = sorted(os.listdir('/proc/self/fd'))\n"})
    (tmp_path / "crc").mkdir()
    crc = hostile.by_name()["bad CRC"].build(tmp_path / "crc")

    # This test's archives only: an earlier test's archive that importlib.metadata read
    # may still be open in garbage (zipfile.Path's cycles) that gc has not collected yet.
    ours = {os.path.realpath(archive), os.path.realpath(crc)}

    def pointing_at_archives() -> List[str]:
        return [where for where in open_fds().values() if where in ours]

    quietly(lambda: zrun.run(f"{archive}:pkg.boom"))
    quietly(lambda: zrun.run(f"{crc}:pkg.mod"))
    namespace = zrun.run(f"{archive}:pkg.check")
    assert pointing_at_archives() == []
    assert namespace["OPEN"]  # and while the code ran, the archive was not held open either
    assert not any(os.readlink(PROC_FD / fd) in ours for fd in namespace["OPEN"] if (PROC_FD / fd).exists())


@needs_proc
def test_descriptor_closed_when_fstat_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = write_zip(tmp_path / "app.zip", PACKAGE)

    class FailingOs:
        """``os`` as zrun.zip.files sees it, with fstat failing like a dying NFS mount."""

        def __getattr__(self, name: str) -> Any:
            return getattr(os, name)

        @staticmethod
        def fstat(fd: int) -> os.stat_result:
            raise OSError(errno.EIO, "Input/output error")

    with no_new_fds():
        monkeypatch.setattr(zrun.zip.files, "os", FailingOs())
        with pytest.raises(zrun.ArchiveError, match="Input/output error"):
            Archive.open(archive)
        monkeypatch.undo()


def test_no_thread_left(tmp_path: Path, clean_sys: Any) -> None:
    archive = write_zip(tmp_path / "app.zip", PACKAGE)
    before = set(threading.enumerate())
    for call in runs(archive):
        quietly(call)
    assert set(threading.enumerate()) - before == set()


def test_no_thread_or_descriptor_left_by_a_scope(tmp_path: Path, clean_sys: Any) -> None:
    scope_module = pytest.importorskip("zrun.plugins.scope")
    archive = write_zip(tmp_path / "app.zip", PACKAGE)
    scope_module.Scope([str(archive)])  # zrun's own lazy modules load before the snapshot, as in a host
    before = set(threading.enumerate())
    context = no_new_fds() if PROC_FD.is_dir() else contextlib.nullcontext()
    with context, no_resource_warnings():
        with scope_module.Scope([str(archive)]) as scope:
            quietly(lambda: scope.run("pkg.mod"))
            quietly(lambda: scope.run("pkg.boom"))
    assert set(threading.enumerate()) - before == set()


# --- out of process: the CLI under -W error -X dev --------------------------------------------


def strict_cli(*args: str, cwd: Path, env: Dict[str, str]) -> Any:
    """``python -W error -X dev -m zrun ARGS`` (every warning an error, dev-mode checks on)."""
    return Launcher("strict", [sys.executable, "-W", "error", "-X", "dev", "-m", "zrun"])(*args, cwd=cwd, env=env)


@pytest.fixture
def isolated_env(tmp_path: Path) -> Dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    return {"HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"), "TMPDIR": str(tmp_path / "tmp")}


def test_cli_has_no_resource_warning(tmp_path: Path, isolated_env: Dict[str, str]) -> None:
    (tmp_path / "tmp").mkdir()
    archive = write_zip(tmp_path / "app.zip", PACKAGE)
    ok = strict_cli(f"{archive}:pkg.mod", cwd=tmp_path, env=isolated_env)
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, "ok\n", "")
    main = strict_cli(str(archive), cwd=tmp_path, env=isolated_env)
    assert (main.returncode, main.stdout, main.stderr) == (0, "main\n", "")


def test_cli_failed_runs_have_no_resource_warning(tmp_path: Path, isolated_env: Dict[str, str]) -> None:
    (tmp_path / "tmp").mkdir()
    crc = hostile.by_name()["bad CRC"].build(tmp_path)
    missing = strict_cli(f"{crc}:pkg.nothing", cwd=tmp_path, env=isolated_env)
    assert missing.returncode == 1 and missing.stderr.startswith("zrun: error: ") and missing.stderr.count("\n") == 1, missing.stderr
    corrupt = strict_cli(f"{crc}:pkg.mod", cwd=tmp_path, env=isolated_env)
    assert corrupt.returncode == 1 and corrupt.stderr.startswith("zrun: error: ") and corrupt.stderr.count("\n") == 1, corrupt.stderr
    good = write_zip(tmp_path / "good.zip", PACKAGE)
    boom = strict_cli(f"{good}:pkg.boom", cwd=tmp_path, env=isolated_env)
    assert boom.returncode == 1 and boom.stderr.rstrip().endswith("RuntimeError: boom"), boom.stderr
    assert "Warning" not in boom.stderr


def tree_of(root: Path) -> Dict[str, int]:
    return {str(path.relative_to(root)): path.stat().st_mtime_ns for path in root.rglob("*")}


@pytest.mark.parametrize("cache", ["on", "off"])
def test_runs_from_archives_write_only_to_the_cache(cache: str, tmp_path: Path, isolated_env: Dict[str, str], zrun_cli: Launcher) -> None:
    """A run from an archive writes nowhere but zrun's cache: not beside it, not in $HOME, not in $TMPDIR.

    With ``ZRUN_NO_CACHE=1`` it writes nothing at all. (The runner.pyz launcher is a
    shiv app that extracts and compiles itself on first run, with a process pool that
    may use $TMPDIR: that is the launcher's install step, not the run's, done once per
    session in the session's SHIV_ROOT, outside the watched tree.)
    """
    (tmp_path / "tmp").mkdir()
    archive = write_zip(tmp_path / "app.zip", PACKAGE)
    crc = hostile.by_name()["bad CRC"].build(tmp_path / "home")
    before = tree_of(tmp_path)
    env = {
        **isolated_env,
        "PYTHONDONTWRITEBYTECODE": "",
        "ZRUN_CACHE_DIR": str(tmp_path / "cache"),
        "ZRUN_NO_CACHE": "1" if cache == "off" else "",
    }
    assert zrun_cli(f"{archive}:pkg.mod", cwd=tmp_path, env=env).returncode == 0
    assert zrun_cli(str(archive), cwd=tmp_path, env=env).returncode == 0
    assert zrun_cli(f"{archive}:pkg.boom", cwd=tmp_path, env=env).returncode == 1
    assert zrun_cli(f"{crc}:pkg.mod", cwd=tmp_path, env=env).returncode == 1
    after = tree_of(tmp_path)
    changed = sorted(name for name in set(before) | set(after) if before.get(name) != after.get(name))
    outside = [name for name in changed if name != "cache" and not name.startswith("cache" + os.sep)]
    assert outside == []
    if cache == "off":
        assert changed == []
