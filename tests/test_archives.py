"""What only archives do: compression kinds, ZIP64, prefixes, replacement, pycs, bad members."""

from __future__ import annotations

import importlib.util
import marshal
import os
import sys
import threading
import zipfile
from pathlib import Path
from typing import Any

import pytest

import zrun
from conftest import expect_ok, run_python, write_zip

MODULE = {"pkg/__init__.py": "", "pkg/mod.py": "import sys\nVALUE = 'v1'\nsys.stdout.write(VALUE + '\\n')\n"}


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_every_compression(tmp_path: Path, compression: int, clean_sys: Any) -> None:
    archive = write_zip(tmp_path / "app.zip", MODULE, compression=compression)
    assert zrun.run(f"{archive}:pkg.mod", isolate=True)["VALUE"] == "v1"


def test_zip64_with_more_than_65535_entries(tmp_path: Path, clean_sys: Any) -> None:
    archive = tmp_path / "big.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as out:
        for index in range(66_000):
            out.writestr(f"filler/f{index}.txt", b"")
        out.writestr("pkg/__init__.py", "")
        out.writestr("pkg/mod.py", "VALUE = 'zip64'\n")
    assert zrun.run(f"{archive}:pkg.mod", isolate=True)["VALUE"] == "zip64"


def test_prefix_data_and_subdirectory(tmp_path: Path, clean_sys: Any) -> None:
    plain = write_zip(tmp_path / "plain.zip", {"lib/pkg/__init__.py": "", "lib/pkg/mod.py": "VALUE = 'sub'\n"})
    pyz = tmp_path / "app.pyz"
    pyz.write_bytes(b"#!/usr/bin/env python3\n" + plain.read_bytes())
    assert zrun.run_module("pkg.mod", sources=[zrun.ZipSource(f"{pyz}/lib")])["VALUE"] == "sub"


def test_replaced_archive_is_seen(tmp_path: Path, capsys: pytest.CaptureFixture[str], clean_sys: Any) -> None:
    archive = write_zip(tmp_path / "app.zip", MODULE)
    zrun.run(f"{archive}:pkg.mod", isolate=True)
    # Rewritten in place, then renamed over: each next run sees the new code.
    write_zip(archive, {**MODULE, "pkg/mod.py": "import sys\nsys.stdout.write('v2 ' + 'x' * 100 + '\\n')\n"})
    zrun.run(f"{archive}:pkg.mod", isolate=True)
    replacement = write_zip(tmp_path / "next.zip", {**MODULE, "pkg/mod.py": "import sys\nsys.stdout.write('v3\\n')\n"})
    os.replace(replacement, archive)
    zrun.run(f"{archive}:pkg.mod", isolate=True)
    assert capsys.readouterr().out.split("\n")[:3] == ["v1", "v2 " + "x" * 100, "v3"]


def test_archive_replaced_while_threads_import(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "app.zip", {"pkg/__init__.py": "", "pkg/mod.py": "VALUE = 0\n"})
    source = zrun.ZipSource(archive)
    seen: list = []
    errors: list = []

    def reader() -> None:
        for _ in range(100):
            try:
                seen.append(zrun.run_module("pkg.mod", sources=[source])["VALUE"])
            except Exception as exc:  # pragma: no cover - the assertion below reports it
                errors.append(exc)
            finally:
                for name in ("pkg", "pkg.mod"):
                    sys.modules.pop(name, None)

    thread = threading.Thread(target=reader)
    thread.start()
    for version in range(1, 30):
        write_zip(tmp_path / "new.zip", {"pkg/__init__.py": "", "pkg/mod.py": f"VALUE = {version}\n" + "#" * version})
        os.replace(tmp_path / "new.zip", archive)
    thread.join()
    assert errors == []
    assert seen == sorted(seen)  # never an old value after a newer one


def test_pep263_latin1_source(tmp_path: Path, clean_sys: Any) -> None:
    text = "# -*- coding: latin-1 -*-\nWORD = 'caf\xe9'\n"
    archive = write_zip(tmp_path / "app.zip", {"legacy.py": text.encode("latin-1")})
    namespace = zrun.run(f"{archive}:legacy", isolate=True)
    assert namespace["WORD"] == "caf\xe9"
    assert namespace["__loader__"].get_source("legacy") == text


def test_bom_source(tmp_path: Path, clean_sys: Any) -> None:
    archive = write_zip(tmp_path / "app.zip", {"bom.py": b"\xef\xbb\xbfWORD = 'ok'\n"})
    namespace = zrun.run(f"{archive}:bom", isolate=True)
    assert namespace["WORD"] == "ok"
    assert namespace["__loader__"].get_source("bom") == "WORD = 'ok'\n"


def _pyc(source: str, *, for_source: bytes, mtime: int, hashed: bool = False) -> bytes:
    code = compile(source, "mod.py", "exec")
    if hashed:
        import _imp

        flags = (0b11).to_bytes(4, "little")
        stamp = _imp.source_hash(int.from_bytes(importlib.util.MAGIC_NUMBER, "little"), for_source)
    else:
        flags = bytes(4)
        stamp = mtime.to_bytes(4, "little") + len(for_source).to_bytes(4, "little")
    return importlib.util.MAGIC_NUMBER + flags + stamp + marshal.dumps(code)


@pytest.mark.parametrize("hashed", [False, True])
def test_valid_pycache_is_used_and_stale_is_not(tmp_path: Path, hashed: bool, clean_sys: Any) -> None:
    source = b"ORIGIN = 'source'\n"
    cache_name = f"__pycache__/mod.{sys.implementation.cache_tag}.pyc"
    archive = tmp_path / "app.zip"
    info = zipfile.ZipInfo("mod.py", date_time=(2024, 1, 2, 3, 4, 6))
    mtime = int(zipfile_time(info))
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr(info, source)
        out.writestr(cache_name, _pyc("ORIGIN = 'pyc'\n", for_source=source, mtime=mtime, hashed=hashed))
    assert zrun.run(f"{archive}:mod", isolate=True)["ORIGIN"] == "pyc"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr(info, source)
        out.writestr(cache_name, _pyc("ORIGIN = 'pyc'\n", for_source=b"other\n", mtime=mtime - 100, hashed=hashed))
    assert zrun.run(f"{archive}:mod", isolate=True)["ORIGIN"] == "source"


def zipfile_time(info: zipfile.ZipInfo) -> float:
    import time

    return time.mktime((*info.date_time, 0, 0, -1))


def test_library_run_gives_back_excepthook_and_traceback_shows_zip_lines(tmp_path: Path) -> None:
    """The host's excepthook is its own after a run (3.9-3.12 replaced it); tracebacks still read the zip's lines."""
    archive = write_zip(tmp_path / "app.zip", {"boom.py": "def go():\n    raise RuntimeError('from the zip')\ngo()\n"})
    code = (
        "import sys, traceback, zrun\n"
        "try:\n"
        f"    zrun.run({str(archive)!r} + ':boom')\n"
        "except RuntimeError:\n"
        "    print(sys.excepthook is sys.__excepthook__)\n"
        "    traceback.print_exc()\n"
    )
    result = run_python(code)
    assert result.returncode == 0 and result.stdout == "True\n", result
    assert "raise RuntimeError('from the zip')" in result.stderr
    assert f"{archive}{os.sep}boom.py" in result.stderr


def test_bad_member_is_typed_and_sys_untouched(tmp_path: Path) -> None:
    body = "".join(f"NAME_{index} = {index * 7919 % 1000003}\n" for index in range(300))
    archive = write_zip(tmp_path / "app.zip", {"pkg/__init__.py": "", "pkg/mod.py": body}, compression=zipfile.ZIP_DEFLATED)
    data = bytearray(archive.read_bytes())
    start = data.index(b"pkg/mod.py") + len("pkg/mod.py")
    data[start + 5 : start + 25] = b"\xff" * 20  # garble the deflate stream of the first pkg/mod.py occurrence
    archive.write_bytes(bytes(data))
    state = zrun.SysState(modules=True)
    with pytest.raises(zrun.ArchiveError) as info:
        zrun.run(f"{archive}:pkg.mod")
    assert str(archive) in str(info.value) and "pkg/mod.py" in str(info.value)
    assert state.diff() == []


def test_not_a_zip_and_missing_archive(tmp_path: Path) -> None:
    fake = tmp_path / "fake.zip"
    fake.write_text("print('I am a script, not an archive')\n")
    with pytest.raises(zrun.NotRunnable):
        zrun.run(f"{fake}:pkg.mod")
    with pytest.raises(zrun.NotRunnable, match="can't open file"):
        zrun.run(str(tmp_path / "missing.zip"))
    with pytest.raises(zrun.ArchiveNotFound):
        zrun.ZipSource(tmp_path / "missing.zip")
    with pytest.raises(zrun.NotAnArchive):
        zrun.ZipSource(fake)


def test_extension_module_inside_archive_is_a_clear_error(tmp_path: Path, clean_sys: Any) -> None:
    from importlib.machinery import EXTENSION_SUFFIXES

    archive = write_zip(tmp_path / "app.zip", {"fast" + EXTENSION_SUFFIXES[0]: b"\x7fELF", "use.py": "import fast\n"})
    with pytest.raises(zrun.ExtensionInArchive, match="fast"):
        zrun.run(f"{archive}:use", isolate=True)


def test_install_path_hook_takes_over_zipimporter(tmp_path: Path, clean_sys: Any) -> None:
    archive = write_zip(tmp_path / "app.zip", {"ns/leaf.py": "LEAF = 1\n"})
    with zrun.SysState(modules=True):
        zrun.install()
        try:
            sys.path.insert(0, str(archive))
            import ns.leaf  # a namespace package with no directory entries: zipimport cannot

            assert ns.leaf.LEAF == 1
            assert isinstance(ns.leaf.__loader__, zrun.loading.loader.ModuleLoader)
        finally:
            zrun.uninstall()


def test_cli_runs_zip_with_source_lines_in_traceback(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "app.zip", {"__main__.py": "import sys\nraise SystemExit(sys.argv[1:] == ['a', 'b'] and 7)\n"})
    result = run_python("import sys, zrun; sys.exit(zrun.main())", str(archive), "a", "b")
    expect_ok(result, 7)
