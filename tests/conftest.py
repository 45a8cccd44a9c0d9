"""Shared fixtures: one package tree, written to every kind of source.

``make_tree(files)`` returns a :class:`Tree` for the parametrized
``source_kind``: a directory, a zip file, zip bytes, a memory source or a
frozen source. Test bodies use ``tree.sources`` / ``tree.location`` and never
branch on the kind except where behaviour differs by design (``__file__``).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Union

import pytest

import zrun

SOURCE_KINDS = ["dir", "zip", "zipbytes", "memory", "frozen"]


_PRIVATE_CACHE = tempfile.TemporaryDirectory(prefix="zrun-test-cache-")


def pytest_configure(config: pytest.Config) -> None:
    """zrun's cache (and every CLI subprocess's) is a test folder, never the user's.

    Set before collection: some test modules run zrun while they are imported.
    """
    os.environ["ZRUN_CACHE_DIR"] = _PRIVATE_CACHE.name


def pytest_unconfigure(config: pytest.Config) -> None:
    _PRIVATE_CACHE.cleanup()
Files = Dict[str, Union[str, bytes]]


def sys_lock_is_free() -> bool:
    """Another thread can take zrun's sys lock: no run left it held."""
    got: List[bool] = []

    def probe() -> None:
        acquired = zrun.SYS_LOCK.acquire(timeout=1)
        got.append(acquired)
        if acquired:
            zrun.SYS_LOCK.release()

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join()
    return got == [True]


def write_zip(path: Path, files: Files, *, compression: int = zipfile.ZIP_DEFLATED) -> Path:
    """A real zip written by ``zipfile``; no explicit directory entries (as ``writestr`` does)."""
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in sorted(files.items()):
            archive.writestr(name, data)
    return path


def zip_bytes(files: Files) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(files.items()):
            archive.writestr(name, data)
    return buffer.getvalue()


def write_tree(root: Path, files: Files) -> Path:
    for name, data in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            target.write_text(data, encoding="utf-8")
        else:
            target.write_bytes(data)
    return root


@dataclass
class Tree:
    kind: str
    source: Any  # what to pass in sources=[...]
    location: Optional[str]  # a path usable as a target location, for kinds that have one

    @property
    def sources(self) -> List[Any]:
        return [self.source]

    @property
    def has_location(self) -> bool:
        return self.kind in ("dir", "zip")

    @property
    def has_source_text(self) -> bool:
        return self.kind != "frozen"


@pytest.fixture(params=SOURCE_KINDS)
def source_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


#: The kinds a target can name by path (``zrun.run("app.zip:pkg.mod")``, ``run_path``): the others live in memory.
LOCATION_KINDS = [kind for kind in SOURCE_KINDS if kind in ("dir", "zip")]


@pytest.fixture
def make_tree(source_kind: str, tmp_path: Path) -> Callable[[Files], Tree]:
    return tree_builder(source_kind, tmp_path)


@pytest.fixture(params=LOCATION_KINDS)
def location_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_located(location_kind: str, tmp_path: Path) -> Callable[[Files], Tree]:
    """``make_tree`` over the kinds with a location: ``tree.location`` is a path to run."""
    return tree_builder(location_kind, tmp_path)


def tree_builder(source_kind: str, tmp_path: Path) -> Callable[[Files], Tree]:
    """Build the same files as a source of ``source_kind``, under ``tmp_path``, each call a new tree."""
    counter = iter(range(1000))

    def make(files: Files) -> Tree:
        n = next(counter)
        if source_kind == "dir":
            root = write_tree(tmp_path / f"tree{n}", files)
            return Tree(source_kind, str(root), str(root))
        if source_kind == "zip":
            path = write_zip(tmp_path / f"tree{n}.zip", files)
            return Tree(source_kind, str(path), str(path))
        if source_kind == "zipbytes":
            return Tree(source_kind, zrun.ZipSource(zip_bytes(files)), None)
        memory = zrun.MemorySource(files)
        if source_kind == "memory":
            return Tree(source_kind, memory, None)
        return Tree(source_kind, zrun.FrozenSource.compile(memory), None)

    return make


@pytest.fixture
def clean_sys():
    """Snapshot sys before the test and assert the code under test left it as it was.

    The assertion covers what zrun promises to restore (lists, importer cache,
    ``__main__``); afterwards every module is put back so tests stay independent.
    """
    state = zrun.SysState()
    everything = zrun.SysState(modules=True)
    yield state
    try:
        assert state.diff() == []
    finally:
        everything.restore()


# --- the CLI, as users launch it ------------------------------------------------

SRC = str(Path(__file__).resolve().parent.parent / "src")


def launchers() -> List[str]:
    """``module`` always; ``pyz`` when ZRUN_TEST_PYZ names a built runner.pyz."""
    return ["module", "pyz"] if os.environ.get("ZRUN_TEST_PYZ") else ["module"]


@dataclass
class Launcher:
    name: str
    prefix: List[str]

    def __call__(
        self, *args: str, cwd: Union[str, Path, None] = None, env: Optional[Dict[str, str]] = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        full_env = dict(os.environ)
        full_env.pop("PYTHONPATH", None)
        full_env.update(env or {})
        return subprocess.run([*self.prefix, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(autouse=True, scope="session")
def shiv_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where runner.pyz extracts itself: ``SHIV_ROOT`` when given (CI's), else a test folder, never ``~/.shiv``.

    Set in ``os.environ`` so every subprocess gets it, launchers the tests build themselves included.
    """
    root = Path(os.environ.get("SHIV_ROOT") or tmp_path_factory.mktemp("shiv-root")).resolve()
    os.environ["SHIV_ROOT"] = str(root)
    return root


@pytest.fixture(scope="session")
def cli_pyz(shiv_root: Path) -> str:
    """``ZRUN_TEST_PYZ``, run once first: its first run extracts and compiles, and no test should time that."""
    pyz = os.path.abspath(os.environ["ZRUN_TEST_PYZ"])  # tests run in other folders
    expect_ok(Launcher("pyz", [sys.executable, pyz])("--version"))
    return pyz


@pytest.fixture(params=launchers())
def zrun_cli(request: pytest.FixtureRequest) -> Launcher:
    """Run the zrun CLI in a subprocess: ``python -m zrun`` or ``python runner.pyz``."""
    if request.param == "pyz":
        return Launcher("pyz", [sys.executable, request.getfixturevalue("cli_pyz")])
    return Launcher("module", [sys.executable, "-m", "zrun"])


def run_python(code: str, *args: str, cwd: Union[str, Path, None] = None, timeout: float = 120) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
    """Run ``python -c code`` in a fresh interpreter."""
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def expect_ok(result: subprocess.CompletedProcess[str], code: int = 0) -> str:
    assert result.returncode == code, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result.stdout


Args = Sequence[str]


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh cache directory that does not exist yet, zrun's cache pointed at it and writing."""
    from zrun.cache import store as cache
    from zrun.loading import extraction as extract
    from zrun.zip.archive import clear_cache

    def forget() -> None:
        cache.reset()
        extract._touched.clear()
        clear_cache()

    where = tmp_path / "cache"
    monkeypatch.setenv("ZRUN_CACHE_DIR", str(where))
    monkeypatch.delenv("ZRUN_NO_CACHE", raising=False)
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    forget()
    yield where
    forget()
