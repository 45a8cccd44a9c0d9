"""zrun.zip.archive against real zips written by ``zipfile``, patched where a test needs damage.

Most tests run twice through the ``kind`` fixture: once from a file on disk and
once from bytes in memory, since both paths share the parser but not the I/O.
"""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path
from typing import Any, Callable, Iterable

import pytest

import hostile
from zrun.errors import ArchiveError, ArchiveNotFound, CorruptArchive, NotAnArchive, UnsupportedMember
from zrun.zip.archive import Archive, MissingMember, StaleArchive, clear_cache
from zrun.zip.index import Member
from zrun.zip.methods import zstd_module

Opener = Callable[[bytes], Archive]
U32 = 0xFFFFFFFF
DATE = (2021, 3, 4, 5, 6, 8)


ZIP_ZSTANDARD = 93  # PEP 784; zipfile.ZIP_ZSTANDARD from 3.14


def zstd_zipfile() -> Any:
    """The ``zipfile`` that writes Zstandard members: 3.14's, else the ``backports.zstd`` copy of it (``zrun[zstd]``)."""
    if hasattr(zipfile, "ZIP_ZSTANDARD"):
        return zipfile
    try:
        from backports.zstd import zipfile as backported  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        pytest.skip("writing Zstandard zips needs Python 3.14+ or backports.zstd (pip install -e '.[zstd]')")
    return backported


def zip_bytes(entries: Iterable[tuple[Any, ...]], *, comment: bytes = b"",
              method: int = zipfile.ZIP_STORED) -> bytes:
    """A zip made by zipfile; an entry is (name, data), (name, data, method) or (ZipInfo, data)."""
    buf = io.BytesIO()
    methods = {method, *(entry[2] for entry in entries if len(entry) > 2)} if isinstance(entries, list) else {method}
    zf_module = zstd_zipfile() if ZIP_ZSTANDARD in methods else zipfile
    with zf_module.ZipFile(buf, "w", method) as zf:
        for entry in entries:
            if isinstance(entry[0], zipfile.ZipInfo):
                zf.writestr(entry[0], entry[1])
                continue
            name, data, *rest = entry
            info = zf_module.ZipInfo(name, DATE)
            info.compress_type = rest[0] if rest else method
            zf.writestr(info, data)
        zf.comment = comment
    return buf.getvalue()


def offsets(blob: bytes | bytearray, name: str) -> tuple[int, int]:
    """(local header, central directory entry) offsets of member ``name``."""
    p = blob.find(b"PK\x01\x02")
    while p >= 0:
        nlen, xlen, clen = struct.unpack_from("<3H", blob, p + 28)
        if bytes(blob[p + 46:p + 46 + nlen]) == name.encode():
            return struct.unpack_from("<L", blob, p + 42)[0], p
        p += 46 + nlen + xlen + clen
    raise AssertionError(name)


def patch(blob: bytes, name: str, fmt: str, local_at: int | None, central_at: int | None, value: int) -> bytes:
    """Overwrite one field of ``name``'s headers; ``*_at`` are offsets inside each header."""
    out = bytearray(blob)
    local, central = offsets(out, name)
    for base, at in ((local, local_at), (central, central_at)):
        if at is not None:
            struct.pack_into(fmt, out, base + at, value)
    return bytes(out)


def data_span(blob: bytes, name: str) -> slice:
    """Where ``name``'s compressed data lies in ``blob``."""
    local, central = offsets(blob, name)
    nlen, xlen = struct.unpack_from("<2H", blob, local + 26)
    start = local + 30 + nlen + xlen
    return slice(start, start + struct.unpack_from("<L", blob, central + 20)[0])


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterable[None]:
    clear_cache()
    yield
    clear_cache()


@pytest.fixture(params=["file", "bytes"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def open_zip(kind: str, tmp_path: Path) -> Opener:
    """Index zip bytes from a file or from memory, as the ``kind`` parameter says."""
    def opener(blob: bytes) -> Archive:
        if kind == "bytes":
            return Archive.from_bytes(blob, label="<test zip>")
        path = tmp_path / f"a{len(list(tmp_path.iterdir()))}.zip"
        path.write_bytes(blob)
        return Archive.open(path)
    return opener


def raises(exc: type[ArchiveError], archive_or_call: Callable[[], object], *words: str) -> ArchiveError:
    """Assert the exact class and that the message names everything in ``words``."""
    with pytest.raises(ArchiveError) as info:
        archive_or_call()
    assert type(info.value) is exc, repr(info.value)
    for word in words:
        assert word in str(info.value)
    return info.value


# --- reading --------------------------------------------------------------------

METHODS = [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]


@pytest.mark.parametrize("method", [*METHODS, ZIP_ZSTANDARD])
def test_round_trip(open_zip: Opener, method: int) -> None:
    payload = b"print('hello')\n" * 500
    archive = open_zip(zip_bytes([("pkg/mod.py", payload), ("empty.txt", b""), ("one", b"x")], method=method))
    assert list(archive.members) == ["pkg/mod.py", "empty.txt", "one"]
    assert archive.read("pkg/mod.py") == payload
    assert archive.read("empty.txt") == b""
    assert archive.read("one") == b"x"
    m = archive.members["pkg/mod.py"]
    assert isinstance(m, Member)
    assert (m.method, m.size, m.crc) == (method, len(payload), zlib.crc32(payload))
    assert m.mtime == time.mktime((*DATE, 0, 0, -1))
    assert archive.refused == []


def test_mixed_methods_in_one_archive(open_zip: Opener) -> None:
    entries = [(f"m{method}", bytes([method]) * 3000, method) for method in METHODS]
    archive = open_zip(zip_bytes(entries))
    for name, data, _ in entries:
        assert archive.read(name) == data


@pytest.mark.parametrize("prefix", [b"#!/usr/bin/env python3\n", b"\x7fELF" + bytes(5000)])
def test_prefix_data_before_the_zip(open_zip: Opener, prefix: bytes) -> None:
    archive = open_zip(prefix + zip_bytes([("__main__.py", b"x = 1\n"), ("a/b.py", b"y = 2\n")]))
    assert archive.read("__main__.py") == b"x = 1\n"
    assert archive.read("a/b.py") == b"y = 2\n"
    assert archive.members["__main__.py"].header_offset == len(prefix)


def test_prefix_with_absolute_offsets(tmp_path: Path) -> None:
    """zipfile's append mode on a stub writes offsets that already count the stub."""
    path = tmp_path / "app.pyz"
    path.write_bytes(b"#!/bin/sh\nexec python3 \"$0\"\n")
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("__main__.py", b"main\n")
    assert Archive.open(path).read("__main__.py") == b"main\n"


@pytest.mark.parametrize("comment", [b"built by test", b"PK\x05\x06" + b"x" * 200, b"c" * 0xFFFF])
def test_archive_comment(open_zip: Opener, comment: bytes) -> None:
    archive = open_zip(zip_bytes([("m.py", b"ok")], comment=comment))
    assert archive.read("m.py") == b"ok"


def test_utf8_and_cp437_names(open_zip: Opener) -> None:
    blob = zip_bytes([("caf\u00e9/\u00fcber.py", b"utf8"), ("cafX.py", b"cp437")])
    blob = blob.replace(b"cafX.py", b"caf\x82.py")  # both headers; zipfile never writes cp437
    archive = open_zip(blob)
    assert archive.members["caf\u00e9/\u00fcber.py"].flags & 0x800
    assert not archive.members["caf\u00e9.py"].flags & 0x800
    assert archive.read("caf\u00e9/\u00fcber.py") == b"utf8"
    assert archive.read("caf\u00e9.py") == b"cp437"
    assert "caf\u00e9" in archive.dirs


class _Unseekable:
    """A write-only stream: zipfile then sets flag bit 3 and writes data descriptors."""

    def __init__(self) -> None:
        self.buf = io.BytesIO()

    def write(self, data: bytes) -> int:
        return self.buf.write(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_data_descriptors(open_zip: Opener) -> None:
    stream = _Unseekable()
    with zipfile.ZipFile(stream, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.py", b"a" * 1000)
        zf.writestr("b.py", b"b = 2\n")
    archive = open_zip(stream.buf.getvalue())
    assert all(m.flags & 0x08 for m in archive.members.values())
    assert archive.read("a.py") == b"a" * 1000
    assert archive.read("b.py") == b"b = 2\n"


def test_implied_and_explicit_dirs(open_zip: Opener) -> None:
    archive = open_zip(zip_bytes([
        ("pkg/sub/mod.py", b""), ("ns/a/b.py", b""), ("top.py", b""),
        (zipfile.ZipInfo("empty/"), b""), (zipfile.ZipInfo("deep/er/"), b""),
    ]))
    assert archive.dirs == {"pkg", "pkg/sub", "ns", "ns/a", "empty", "deep", "deep/er"}
    assert set(archive.members) == {"pkg/sub/mod.py", "ns/a/b.py", "top.py"}


def test_duplicate_names_last_wins(open_zip: Opener) -> None:
    with pytest.warns(UserWarning):
        blob = zip_bytes([("dup.py", b"first"), ("other", b""), ("dup.py", b"second")])
    archive = open_zip(blob)
    assert list(archive.members) == ["dup.py", "other"]
    assert archive.read("dup.py") == b"second"


@pytest.mark.parametrize("bad", ["../x.py", "/abs.py", "a/../../b.py", "..", "\\win.py", "nul\x00.py"])
def test_refused_names(open_zip: Opener, bad: str) -> None:
    placeholder = "Q" * len(bad.encode())  # zipfile cuts names at NUL, so patch the bytes in
    blob = zip_bytes([("ok.py", b"ok"), (placeholder, b"evil")]).replace(placeholder.encode(), bad.encode())
    archive = open_zip(blob)
    assert archive.refused == [bad]
    assert list(archive.members) == ["ok.py"]
    assert archive.dirs == frozenset()
    raises(MissingMember, lambda: archive.read(bad), bad)


def test_zip64_more_than_65535_entries(tmp_path: Path) -> None:
    n = 70_000
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(n):
            zf.writestr(zipfile.ZipInfo(f"d{i % 7}/m{i}.py", DATE), b"%d" % i)
    assert b"PK\x06\x06" in path.read_bytes()[-200:]
    archive = Archive.open(path)
    assert len(archive.members) == n
    assert archive.dirs == {f"d{i}" for i in range(7)}
    assert archive.read("d0/m0.py") == b"0"
    assert archive.read(f"d{(n - 1) % 7}/m{n - 1}.py") == b"%d" % (n - 1)
    assert Archive.from_bytes(path.read_bytes()).read("d3/m10.py") == b"10"


def zip64_by_hand(name: bytes, data: bytes, prefix: bytes = b"", ext: bytes = b"") -> bytes:
    """One member whose central entry keeps its sizes and offset in a ZIP64 extra field.

    ``ext`` is a ZIP64 "extensible data sector": the record then no longer sits
    right before its locator, and only the locator's offset finds it.
    """
    crc = zlib.crc32(data)
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 45, 0, 0, 0, 0x21, crc, U32, U32, len(name), 20)
    local += name + struct.pack("<2H2Q", 1, 16, len(data), len(data)) + data
    extra = struct.pack("<2H5x", 0x5455, 5) + struct.pack("<2H3Q", 1, 24, len(data), len(data), 0)
    central = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 45, 45, 0, 0, 0, 0x21, crc, U32, U32,
                          len(name), len(extra), 0, 0, 0, 0, U32) + name + extra
    cd_off, cd_size = len(local), len(central)
    z64 = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44 + len(ext), 45, 45, 0, 0, 1, 1, cd_size, cd_off) + ext
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, cd_off + cd_size, 1)
    eocd = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, U32, U32, 0)
    return prefix + local + central + z64 + locator + eocd


@pytest.mark.parametrize(("prefix", "ext"), [(b"", b""), (b"#!/usr/bin/python3\n", b""), (b"", b"\x99\x99\x04\x00data")])
def test_zip64_extra_fields(open_zip: Opener, prefix: bytes, ext: bytes) -> None:
    blob = zip64_by_hand(b"big.py", b"print('zip64')\n", prefix, ext)
    if not ext:  # zipfile assumes no extensible data; otherwise it vouches for the fixture
        assert zipfile.ZipFile(io.BytesIO(blob)).read("big.py") == b"print('zip64')\n"
    archive = open_zip(blob)
    m = archive.members["big.py"]
    assert (m.size, m.compressed_size, m.header_offset) == (15, 15, len(prefix))
    assert archive.read("big.py") == b"print('zip64')\n"


def test_zip64_end_record_missing(open_zip: Opener) -> None:
    blob = zip64_by_hand(b"big.py", b"x").replace(b"PK\x06\x06", b"PK\x00\x00")
    raises(CorruptArchive, lambda: open_zip(blob), "ZIP64 end of central directory")


def test_zip64_extra_missing_is_corrupt(open_zip: Opener) -> None:
    blob = patch(zip_bytes([("m.py", b"x")]), "m.py", "<L", None, 24, U32)
    raises(CorruptArchive, lambda: open_zip(blob), "m.py", "ZIP64")


def test_force_zip64_local_header(open_zip: Opener) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf, zf.open("m.py", "w", force_zip64=True) as f:
        f.write(b"forced\n" * 10)
    assert open_zip(buf.getvalue()).read("m.py") == b"forced\n" * 10


# --- in memory, staleness and the cache ------------------------------------------

def test_from_bytes() -> None:
    blob = zip_bytes([("m.py", b"mem")])
    archive = Archive.from_bytes(bytearray(blob), label="<mine>")
    assert archive.path == "<mine>"
    assert archive.identity == (len(blob), zlib.crc32(blob))
    assert not archive.is_stale()
    assert archive.read("m.py") == b"mem"
    assert Archive.from_bytes(blob).path == "<memory zip>"


def _bump_mtime(path: Path, seconds: int = 5) -> None:
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + seconds * 10**9 + 1))


def test_stale_after_rewrite_in_place(tmp_path: Path) -> None:
    path = tmp_path / "a.zip"
    path.write_bytes(zip_bytes([("m.py", b"old")]))
    archive = Archive.open(path)
    assert not archive.is_stale()
    with open(path, "r+b") as f:  # same inode, same size
        f.write(zip_bytes([("m.py", b"new")]))
    _bump_mtime(path)
    assert archive.is_stale()
    raises(StaleArchive, lambda: archive.read("m.py"), str(path), "m.py")
    fresh = Archive.open(path)
    assert fresh is not archive
    assert fresh.read("m.py") == b"new"


def test_stale_after_replace(tmp_path: Path) -> None:
    path, new = tmp_path / "a.zip", tmp_path / "new.zip"
    path.write_bytes(zip_bytes([("m.py", b"old")]))
    archive = Archive.open(path)
    new.write_bytes(zip_bytes([("m.py", b"new"), ("n.py", b"")]))
    _bump_mtime(new)
    os.replace(new, path)
    assert archive.is_stale()
    err = raises(StaleArchive, lambda: archive.read("m.py"), str(path), "m.py")
    assert isinstance(err, CorruptArchive)
    assert Archive.open(path).read("m.py") == b"new"


def test_stale_after_removal(tmp_path: Path) -> None:
    path = tmp_path / "a.zip"
    path.write_bytes(zip_bytes([("m.py", b"old")]))
    archive = Archive.open(path)
    path.unlink()
    assert archive.is_stale()
    raises(StaleArchive, lambda: archive.read("m.py"), str(path), "m.py")
    raises(ArchiveNotFound, lambda: Archive.open(path), str(path))


def test_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.zip"
    path.write_bytes(zip_bytes([("m.py", b"x")]))
    first = Archive.open(path)
    assert first.path == str(path) and os.path.isabs(first.path)
    monkeypatch.chdir(tmp_path)
    assert Archive.open("a.zip") is first
    assert Archive.open(str(path)) is first
    clear_cache()
    assert Archive.open(path) is not first


# --- errors --------------------------------------------------------------------

def test_missing_file(tmp_path: Path) -> None:
    raises(ArchiveNotFound, lambda: Archive.open(tmp_path / "nope.zip"), str(tmp_path / "nope.zip"))
    raises(ArchiveNotFound, lambda: Archive.open(tmp_path / "nope" / "x.zip"), "x.zip")


def test_directory(tmp_path: Path) -> None:
    raises(ArchiveNotFound, lambda: Archive.open(tmp_path), str(tmp_path), "directory")


@pytest.mark.parametrize("blob", [b"", b"print('not a zip')\n" * 100, b"PK\x05\x06"])
def test_not_a_zip(open_zip: Opener, blob: bytes) -> None:
    err = raises(NotAnArchive, lambda: open_zip(blob), "not a zip archive")
    assert str(err.path) in str(err)


def _cd_start(blob: bytes) -> int:
    return int(struct.unpack_from("<L", blob, len(blob) - 6)[0])


def test_truncated_central_directory(open_zip: Opener) -> None:
    blob = zip_bytes([("a.py", b"a"), ("b.py", b"b"), ("c.py", b"c")])
    cut = _cd_start(blob) + 10
    raises(CorruptArchive, lambda: open_zip(blob[:cut] + blob[cut + 20:]), "truncated")


def test_central_directory_damage(open_zip: Opener) -> None:
    blob = zip_bytes([("a.py", b"a"), ("b.py", b"b")])
    bad_sig = patch(blob, "b.py", "<4s", None, 0, b"PK\x09\x09")  # type: ignore[arg-type]
    raises(CorruptArchive, lambda: open_zip(bad_sig), "signature")
    wrong_count = bytearray(blob)
    struct.pack_into("<2H", wrong_count, len(blob) - 14, 3, 3)
    raises(CorruptArchive, lambda: open_zip(bytes(wrong_count)), "2 entries")
    long_name = patch(blob, "b.py", "<H", None, 28, 200)
    raises(CorruptArchive, lambda: open_zip(long_name), "past")


def test_multi_disk_archive_is_refused(open_zip: Opener) -> None:
    blob = bytearray(zip_bytes([("m.py", b"x")]))
    struct.pack_into("<H", blob, len(blob) - 18, 1)  # "number of this disk"
    raises(ArchiveError, lambda: open_zip(bytes(blob)), "multi-disk")


def test_truncated_member_data(open_zip: Opener) -> None:
    blob = zip_bytes([("m.py", b"x" * 100)])
    archive = open_zip(patch(blob, "m.py", "<L", None, 20, 10**6))
    raises(CorruptArchive, lambda: archive.read("m.py"), "m.py", "truncated")
    archive = open_zip(patch(blob, "m.py", "<L", None, 42, 10**6))
    raises(CorruptArchive, lambda: archive.read("m.py"), "m.py", "local header")


def test_local_header_damage(open_zip: Opener) -> None:
    blob = zip_bytes([("m.py", b"x")])
    archive = open_zip(patch(blob, "m.py", "<4s", 0, None, b"PK\x00\x00"))  # type: ignore[arg-type]
    raises(CorruptArchive, lambda: archive.read("m.py"), "m.py", "signature")
    archive = open_zip(patch(blob, "m.py", "<4s", 30, None, b"n.py"))  # type: ignore[arg-type]
    raises(CorruptArchive, lambda: archive.read("m.py"), "m.py", "another member")


def test_bad_crc(open_zip: Opener) -> None:
    blob = bytearray(zip_bytes([("m.py", b"print('hi')\n")]))
    blob[data_span(bytes(blob), "m.py").start] ^= 0xFF
    archive = open_zip(bytes(blob))
    raises(CorruptArchive, lambda: archive.read("m.py"), "m.py", "bad CRC")


def test_encrypted(open_zip: Opener) -> None:
    archive = open_zip(patch(zip_bytes([("m.py", b"x")]), "m.py", "<H", 6, 8, 1))
    raises(UnsupportedMember, lambda: archive.read("m.py"), "m.py", "encrypted")


def test_unknown_method(open_zip: Opener) -> None:
    archive = open_zip(patch(zip_bytes([("m.py", b"x")]), "m.py", "<H", 8, 10, 99))
    assert archive.members["m.py"].method == 99
    raises(UnsupportedMember, lambda: archive.read("m.py"), "m.py", "99")


@pytest.mark.parametrize("method", [*METHODS[1:], ZIP_ZSTANDARD])
def test_garbage_compressed_data(open_zip: Opener, method: int) -> None:
    blob = bytearray(zip_bytes([("m.py", b"data " * 400)], method=method))
    span = data_span(bytes(blob), "m.py")
    blob[span] = b"\xff" * (span.stop - span.start)
    archive = open_zip(bytes(blob))
    err = raises(CorruptArchive, lambda: archive.read("m.py"), "m.py")
    assert err.__cause__ is not None and not isinstance(err.__cause__, ArchiveError)  # wrapped


@pytest.mark.parametrize(("method", "module"), [(zipfile.ZIP_BZIP2, "bz2"), (zipfile.ZIP_LZMA, "lzma")])
def test_decompressor_module_missing(open_zip: Opener, monkeypatch: pytest.MonkeyPatch, method: int, module: str) -> None:
    archive = open_zip(zip_bytes([("m.py", b"x" * 100)], method=method))
    monkeypatch.setitem(sys.modules, module, None)  # what a Python built without it shows
    raises(UnsupportedMember, lambda: archive.read("m.py"), "m.py", module)


@pytest.mark.parametrize("method", [*METHODS, ZIP_ZSTANDARD])
def test_inflates_past_declared_size(open_zip: Opener, method: int) -> None:
    blob = zip_bytes([("m.py", b"a" * 1000)], method=method)
    archive = open_zip(patch(blob, "m.py", "<L", 22, 24, 10))
    raises(CorruptArchive, lambda: archive.read("m.py"), "m.py", "past its declared 10 bytes")


def test_zstandard_without_a_decompressor_names_what_to_install(open_zip: Opener, monkeypatch: pytest.MonkeyPatch) -> None:
    """No compression.zstd (before 3.14) and no backport: refused by name, saying what to install."""
    archive = open_zip(patch(zip_bytes([("m.py", b"x")]), "m.py", "<H", 8, 10, ZIP_ZSTANDARD))  # never decoded
    monkeypatch.setitem(sys.modules, "compression.zstd", None)  # what an interpreter without either shows
    monkeypatch.setitem(sys.modules, "backports.zstd", None)
    err = raises(UnsupportedMember, lambda: archive.read("m.py"), "m.py", "compression method 93 (zstandard)", "backports.zstd",
                 "zrun[zstd]")
    assert err.path == archive.path


def test_zstandard_concatenated_frames(open_zip: Opener) -> None:
    """A member of several Zstandard frames (other writers make them) is read whole, still capped at its size."""
    zstd_zipfile()  # skips where nothing writes (or reads) Zstandard
    zstd = zstd_module()
    parts = [b"first frame\n" * 50, b"second\n" * 70, b""]
    raw = b"".join(zstd.compress(part) for part in parts)
    data = b"".join(parts)
    blob = hostile.assemble([("m.py", raw, ZIP_ZSTANDARD, zlib.crc32(data), len(data))])
    assert open_zip(blob).read("m.py") == data
    short = hostile.assemble([("m.py", raw, ZIP_ZSTANDARD, zlib.crc32(data), len(parts[0]) + 3)])
    raises(CorruptArchive, lambda: open_zip(short).read("m.py"), "m.py", "past its declared")


def test_zstandard_multi_member_archive_from_zipfile(tmp_path: Path, clean_sys: Any) -> None:
    """A whole package written by zipfile's ZIP_ZSTANDARD imports and runs (3.14's zipfile, or the backport's)."""
    import zrun

    blob = zip_bytes([("pkg/__init__.py", b""), ("pkg/util.py", b"WORD = 'zstd'\n" * 300),
                      ("pkg/mod.py", b"from .util import WORD\nRESULT = WORD * 2\n")], method=ZIP_ZSTANDARD)
    (tmp_path / "app.zip").write_bytes(blob)
    assert zrun.run("pkg.mod", sources=[str(tmp_path / "app.zip")], isolate=True)["RESULT"] == "zstdzstd"


def test_missing_member_is_not_a_key_error(open_zip: Opener) -> None:
    archive = open_zip(zip_bytes([("m.py", b"x"), (zipfile.ZipInfo("d/"), b"")]))
    err = raises(MissingMember, lambda: archive.read("nope.py"), "nope.py")
    assert not isinstance(err, KeyError)
    raises(MissingMember, lambda: archive.read("d/"), "d/")


def test_does_not_import_zipfile() -> None:
    code = ("import sys; import zrun.errors; before = set(sys.modules); import zrun.zip.archive; "
            "print(sorted({'zipfile', 'bz2', 'lzma', 'compression.zstd', 'backports.zstd'} & (set(sys.modules) - before)))")
    src = str(Path(__file__).resolve().parent.parent / "src")
    env = {**os.environ, "PYTHONPATH": src}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
