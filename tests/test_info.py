"""``zrun info TARGET [--json]``: what an archive, wheel, bundle or directory holds, read without running it."""

from __future__ import annotations

import json
import os
import zipfile
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path
from typing import Any, Dict

import pytest

import zrun
from conftest import Launcher, expect_ok, write_tree, write_zip
from wheels import tool_wheels

__all__ = ["tool_wheels"]  # the fixture, imported for pytest

TRAP = "open({marker!r}, 'w').close()\n"  # any code that runs leaves the marker behind


def files(marker: Path) -> Dict[str, str]:
    trap = TRAP.format(marker=str(marker))
    return {
        "__main__.py": trap,
        "app/__init__.py": trap,
        "app/__main__.py": trap,
        "app/cli.py": trap,
        "app/sub/__init__.py": trap,
        "app/sub/deep.py": trap,
        "top.py": trap,
        f"app/_speed{EXTENSION_SUFFIXES[0]}": "not really an extension",
        "app/_other.cp313-win_amd64.pyd": "for another platform",
        "app-2.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: app\nVersion: 2.0\n\nThe description: Name: not this\n",
        "app-2.0.dist-info/entry_points.txt": "[console_scripts]\napp = app.cli:main\n\n[app.plugins]\nfirst = app.sub.deep:run\n",
    }


def info(zrun_cli: Launcher, *args: str, cwd: Path) -> Dict[str, Any]:
    return json.loads(expect_ok(zrun_cli("info", *args, "--json", cwd=cwd)))  # type: ignore[no-any-return]


def test_archive_from_its_index_alone(zrun_cli: Launcher, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    archive = tmp_path / "app.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name, data in sorted(files(marker).items()):
            zf.writestr(name, data, zipfile.ZIP_STORED if name.endswith(".txt") else zipfile.ZIP_DEFLATED)
    report = info(zrun_cli, "app.zip", cwd=tmp_path)
    assert not marker.exists()
    members = zipfile.ZipFile(archive).infolist()
    assert report == {
        "path": str(archive),
        "kind": "zip archive",
        "files": 11,
        "metadata": {"app": "2.0"},
        "main": ["app.zip", "app.zip:app"],
        "console_scripts": {"app": "app.cli:main"},
        "gui_scripts": {},
        "entry_points": {"app.plugins": {"first": "app.sub.deep:run"}},
        "packages": ["app", "app.sub"],
        "modules": ["__main__", "app.__main__", "app._speed", "app.cli", "app.sub.deep", "top"],
        "extensions": [
            {"member": "app/_other.cp313-win_amd64.pyd", "loads_here": False},
            {"member": f"app/_speed{EXTENSION_SUFFIXES[0]}", "loads_here": True},
        ][:: 1 if "app/_other" < f"app/_speed{EXTENSION_SUFFIXES[0]}" else -1],
        "size": archive.stat().st_size,
        "compression": {"deflate": 10, "stored": 1},
        "uncompressed": sum(member.file_size for member in members),
        "cache": {
            "directory": os.environ["ZRUN_CACHE_DIR"],
            "disabled": False,
            "compiled": 0,
            "sources": 7,
            "extensions_extracted": False,
            "index": None,
        },
    }


def test_says_what_the_cache_holds(zrun_cli: Launcher, tmp_path: Path) -> None:
    write_zip(tmp_path / "lib.zip", {"lpkg/__init__.py": "", "lpkg/a.py": "from lpkg import b\n", "lpkg/b.py": "", "lpkg/c.py": ""})
    env = {"ZRUN_CACHE_DIR": str(tmp_path / "cache"), "PYTHONDONTWRITEBYTECODE": ""}
    before = expect_ok(zrun_cli("info", "lib.zip", cwd=tmp_path, env=env)).splitlines()[-1]
    assert before == f"  zrun cache:      0 of 4 modules compiled ({tmp_path / 'cache'})"
    expect_ok(zrun_cli("lib.zip:lpkg.a", cwd=tmp_path, env=env))
    after = expect_ok(zrun_cli("info", "lib.zip", cwd=tmp_path, env=env)).splitlines()[-1]
    assert after == f"  zrun cache:      3 of 4 modules compiled ({tmp_path / 'cache'})"
    off = expect_ok(zrun_cli("info", "lib.zip", cwd=tmp_path, env={**env, "ZRUN_NO_CACHE": "1"})).splitlines()[-1]
    assert off == f"  zrun cache:      disabled by ZRUN_NO_CACHE ({tmp_path / 'cache'})"


def test_says_whether_a_large_index_is_cached(zrun_cli: Launcher, tmp_path: Path) -> None:
    """Archives of 1000 members or more keep their parsed index in the cache (docs/cache.md)."""
    write_zip(tmp_path / "big.zip", {"big/__init__.py": "", **{f"big/m{n}.py": "" for n in range(1000)}})
    env = {"ZRUN_CACHE_DIR": str(tmp_path / "cache"), "PYTHONDONTWRITEBYTECODE": ""}
    assert info(zrun_cli, "big.zip", cwd=tmp_path)["cache"]["index"] is False
    expect_ok(zrun_cli("big.zip:big.m1", cwd=tmp_path, env=env))
    last = expect_ok(zrun_cli("info", "big.zip", cwd=tmp_path, env=env)).splitlines()[-1]
    assert last == f"  zrun cache:      2 of 1001 modules compiled, index cached ({tmp_path / 'cache'})"


def test_wheel_text(zrun_cli: Launcher, tool_wheels: Dict[str, Path], tmp_path: Path) -> None:
    wheel = tool_wheels["twotool"]
    with zipfile.ZipFile(wheel) as zf:
        count, unpacked = len(zf.infolist()), sum(member.file_size for member in zf.infolist())
    assert expect_ok(zrun_cli("info", str(wheel), cwd=tmp_path)) == (
        f"{wheel}: wheel, {count} files, {wheel.stat().st_size:,} bytes\n"
        f"  compression:     {count} deflate; {unpacked:,} bytes uncompressed\n"
        "  distribution:    twotool 1.0\n"
        "  runs (__main__): none\n"
        "  console script:  twotool = twotool.cli:main\n"
        "  console script:  twotool-shout = twotool.cli:shout\n"
        "  entry point:     [twotool.plugins] extra = twotool.cli:shout\n"
        "  packages:        twotool\n"
        "  modules:         twotool.cli\n"
        f"  zrun cache:      0 of 2 modules compiled ({os.environ['ZRUN_CACHE_DIR']})\n"
    )


def test_directory(zrun_cli: Launcher, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    write_tree(tmp_path / "tree", files(marker))
    (tmp_path / "tree" / "app" / "__pycache__").mkdir()
    (tmp_path / "tree" / "app" / "__pycache__" / "cli.cpython-311.pyc").write_bytes(b"")
    report = info(zrun_cli, "tree", cwd=tmp_path)
    assert not marker.exists()
    assert (report["kind"], report["files"], report["main"]) == ("directory", 11, ["tree", "tree:app"])
    assert report["console_scripts"] == {"app": "app.cli:main"}
    assert report["packages"] == ["app", "app.sub"] and report["cache"] is None
    assert report["size"] == sum(len(data) for data in files(marker).values())


def test_bundle(zrun_cli: Launcher, tmp_path: Path) -> None:
    bundle = tmp_path / "app.zrf"
    zrun.FrozenSource.compile(zrun.MemorySource({"bpkg/__init__.py": "", "bpkg/__main__.py": "print(1)\n"})).dump(bundle)
    report = info(zrun_cli, "app.zrf", cwd=tmp_path)
    assert (report["kind"], report["main"], report["packages"], report["modules"]) == (
        "bundle",
        ["app.zrf:bpkg"],
        ["bpkg"],
        ["bpkg.__main__"],
    )


def test_errors(zrun_cli: Launcher, tmp_path: Path) -> None:
    missing = zrun_cli("info", "nope.zip", cwd=tmp_path)
    assert (missing.returncode, missing.stderr) == (
        2,
        f"zrun: error: can't open file {str(tmp_path / 'nope.zip')!r}: [Errno 2] No such file or directory\n",
    )
    (tmp_path / "notes.txt").write_text("hello", encoding="utf-8")
    text = zrun_cli("info", "notes.txt", cwd=tmp_path)
    assert (text.returncode, text.stderr) == (1, f"zrun: error: {tmp_path / 'notes.txt'}: not a zip archive, bundle or directory\n")
    data = write_zip(tmp_path / "whole.zip", {"m.py": ""}).read_bytes()
    (tmp_path / "cut.zip").write_bytes(data[:30])
    cut = zrun_cli("info", "cut.zip", cwd=tmp_path)
    assert cut.returncode == 1 and "cut.zip: truncated or corrupt zip archive" in cut.stderr
    usage = zrun_cli("info", cwd=tmp_path)
    assert usage.returncode == 2 and usage.stderr.endswith("zrun: error: info needs exactly one TARGET\n")


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help(zrun_cli: Launcher, tmp_path: Path, flag: str) -> None:
    assert expect_ok(zrun_cli("info", flag, cwd=tmp_path)).startswith("usage: zrun info TARGET [--json]\n")
