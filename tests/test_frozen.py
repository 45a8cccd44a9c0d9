"""Frozen-like sources and bundle files: code only, no text, no file."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import pytest

import zrun
from conftest import expect_ok, write_tree

APP = {
    "app/__init__.py": "",
    "app/main.py": "import sys\nfrom .util import twice\nprint(twice(int(sys.argv[1])))\n",
    "app/util.py": "def twice(n):\n    return 2 * n\n",
    "app/data/info.txt": "bundled data",
}


def test_bundle_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str], clean_sys: Any) -> None:
    bundle = tmp_path / "app.zrf"
    zrun.FrozenSource.compile(zrun.MemorySource(APP)).dump(bundle)
    loaded = zrun.FrozenSource.load(bundle)
    assert sorted(loaded.files()) == ["app/__init__.pyc", "app/data/info.txt", "app/main.pyc", "app/util.pyc"]
    namespace = zrun.run("app.main", ["21"], sources=[loaded], isolate=True)
    assert capsys.readouterr().out == "42\n"
    assert namespace["__file__"] is None
    assert namespace["__loader__"].get_source("app.main") is None
    assert namespace["__spec__"].has_location is False


def test_compile_from_directory_and_archive(tmp_path: Path, clean_sys: Any) -> None:
    from conftest import write_zip

    directory = write_tree(tmp_path / "tree", APP)
    archive = write_zip(tmp_path / "app.zip", APP)
    for origin in (directory, archive):
        frozen = zrun.FrozenSource.compile(origin)
        assert zrun.run_module("app.util", sources=[frozen])["twice"](4) == 8
        for name in [n for n in sys.modules if n == "app" or n.startswith("app.")]:
            del sys.modules[name]


def test_bundle_is_a_cli_target(tmp_path: Path, zrun_cli: Any) -> None:
    bundle = tmp_path / "app.zrf"
    zrun.FrozenSource.compile(zrun.MemorySource(APP)).dump(bundle)
    assert expect_ok(zrun_cli(f"{bundle}:app.main", "5")) == "10\n"


def test_bundle_from_other_interpreter_is_refused(tmp_path: Path, clean_sys: Any) -> None:
    bundle = tmp_path / "app.zrf"
    zrun.FrozenSource.compile(zrun.MemorySource(APP)).dump(bundle)
    data = bytearray(bundle.read_bytes())
    data[8:12] = b"\x00\x00\r\n"  # another bytecode magic
    tag = sys.implementation.cache_tag.encode()
    start = data.index(tag)
    data[start : start + len(tag)] = b"cpython-99"[: len(tag)].ljust(len(tag), b"9")
    bundle.write_bytes(bytes(data))
    with pytest.raises(zrun.BundleError) as info:
        zrun.FrozenSource.load(bundle)
    message = str(info.value)
    assert str(bundle) in message
    assert sys.implementation.cache_tag in message and "0000" in message


@pytest.mark.parametrize("cut", [9, 20, -3])
def test_truncated_bundle(tmp_path: Path, cut: int) -> None:
    bundle = tmp_path / "app.zrf"
    zrun.FrozenSource.compile(zrun.MemorySource(APP)).dump(bundle)
    bundle.write_bytes(bundle.read_bytes()[:cut])
    with pytest.raises(zrun.BundleError, match=r"app\.zrf"):
        zrun.FrozenSource.load(bundle)


def test_frozen_source_refuses_source_text() -> None:
    with pytest.raises(ValueError, match="code objects"):
        zrun.FrozenSource({"m.py": b"x = 1"})


def test_no_source_is_borrowed_from_a_host_module(tmp_path: Path, clean_sys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Frozen code has no text: getsource and tracebacks find none, even where its globals' name is a host module's file."""
    import inspect
    import traceback

    host_file = tmp_path / "hostmod.py"
    host_file.write_text("def twice(n):\n    HOST_SECRET = 1\n    return 'host'\n")
    hostmod = types.ModuleType("hostmod")  # a host module with a real file, as imported ones have
    hostmod.__file__ = str(host_file)
    exec(compile(host_file.read_text(), str(host_file), "exec"), hostmod.__dict__)
    monkeypatch.setitem(sys.modules, "hostmod", hostmod)

    frozen = zrun.FrozenSource.compile(zrun.MemorySource({**APP, "app/util.py": "def twice(n):\n    return n / 0\n"}))
    for run_name in ("hostmod", "__main__"):  # a run_name, and an isolated run whose __main__ is the host's again
        if run_name == "__main__":
            twice = zrun.run("app.util", sources=[frozen], isolate=True)["twice"]
        else:
            twice = zrun.run_module("app.util", run_name=run_name, sources=[frozen])["twice"]
        with pytest.raises(OSError):
            inspect.getsource(twice)
        try:
            twice(1)
        except ZeroDivisionError as exc:
            shown = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        assert "HOST_SECRET" not in shown and "return 'host'" not in shown and "import" not in shown.split("app.util")[-1], shown
    assert hostmod.twice(1) == "host"
    for name in [n for n in sys.modules if n == "app" or n.startswith("app.")]:  # run_module's parent package stays, as in runpy
        monkeypatch.delitem(sys.modules, name)


def test_a_bundle_path_is_a_source_wherever_sources_are_taken(tmp_path: Path, clean_sys: Any) -> None:
    """One conversion (zrun.engine.entries) serves every entry point: a bundle path works in ``sources=`` as it does as a location."""
    bundle = tmp_path / "plugin.zrunb"
    zrun.FrozenSource.compile(zrun.MemorySource({"bp/__init__.py": "", "bp/m.py": "X = 41 + 1\n"})).dump(str(bundle))
    assert zrun.run(f"{bundle}:bp.m")["X"] == 42
    assert zrun.run("bp.m", sources=[str(bundle)])["X"] == 42
    assert zrun.run_module("bp.m", sources=[bundle])["X"] == 42
    with zrun.Scope(bundle) as scope:
        assert scope.import_module("bp.m").X == 42
