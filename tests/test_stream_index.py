"""A large archive's first run streams its central directory into the stored table (issue 16).

No ``dict`` of a :class:`~zrun.zip.index.Member` per entry is made: the
directory is read in chunks straight into the table's build, and the run
searches that table as a later run does. Everything it answers, and every
error it raises, must be what the dict parse (:func:`zrun.zip.index.read_index`
without ``large``) gives: checked over generated archives a few thousand
entries big (above the real threshold), over the hostile corpus's archives
(with the threshold lowered), and with the directory read a few bytes at a
time, so that entries straddle every read. Peak memory is the benchmarks'
business (benchmarks/), not a test's.
"""

from __future__ import annotations

import io
import os
import random
import struct
import subprocess
import sys
import textwrap
import warnings
import zipfile
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Tuple

import pytest

import hostile
from test_indextable import probes, same_answers
from zrun.cache import store as cache
from zrun.errors import ZrunError
from zrun.zip import archive as archive_module
from zrun.zip import index as index_module
from zrun.zip import indexcache, tablebuild
from zrun.zip.archive import Archive, clear_cache
from zrun.zip.files import reader
from zrun.zip.source import ZipSource

ENTRIES = 3000  # above indexcache.MIN_ENTRIES: the real threshold, not a lowered one
ONE = ENTRIES + 12  # what the last big/one.py of write_big prints: it follows the ENTRIES + 12 shuffled names
REFUSED = ["../evil.py", "/abs.py", "back\\..\\slash.py", "a/../b.py"]


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty cache that zrun writes to, and no index held in memory."""
    monkeypatch.setenv("ZRUN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("ZRUN_NO_CACHE", raising=False)
    cache.reset()
    clear_cache()
    yield tmp_path
    cache.reset()
    clear_cache()


@pytest.fixture
def every_archive(fresh: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """:func:`fresh`, and every archive, however small, taken as large (streamed, stored)."""
    monkeypatch.setattr(indexcache, "MIN_ENTRIES", 1)
    monkeypatch.setattr(indexcache, "MIN_BYTES", 0)
    monkeypatch.setattr(archive_module, "_INDEX_CACHE_MIN_BYTES", 0)
    return fresh


def stored_entries(root: Path) -> List[Path]:
    return [p for p in (root / "cache" / "index").rglob("*") if p.is_file()] if (root / "cache" / "index").is_dir() else []


def write_big(path: Path, *, prefix: bytes = b"", zip64_everywhere: bool = False, comment_every: int = 0) -> Path:
    """An archive of :data:`ENTRIES` members in shuffled order, with every kind of name the parse treats apart.

    Duplicates (the last one wins), UTF-8 names, a cp437 name (no UTF-8 flag),
    directory entries, unsafe names (refused), a prefix before the zip; with
    ``zip64_everywhere`` zipfile writes a ZIP64 extra for every member it can
    (its limit lowered), and ``comment_every`` gives every n-th entry a long
    comment and extra field, so that entries are of very different sizes.
    """
    names = [f"big/data/d{n // 100:03d}/file{n:05d}.txt" for n in range(ENTRIES)]
    names += ["big/__init__.py", "big/one.py", "caf\u00e9/\u00fcber.py", "\u4e2d/\u6587.py", "empty/", "big/data/", "deep/a/b/c/"]
    names += ["../evil.py", "/abs.py", "back\\..\\slash.py", "a/../b.py", "x/y/"]
    random.Random(16).shuffle(names)
    names += ["big/one.py", "big/data/d000/file00000.txt", "caf\u00e9/\u00fcber.py"]  # duplicates, written last: they win
    buffer = io.BytesIO()
    buffer.write(prefix)
    limit = zipfile.ZIP64_LIMIT
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names, on purpose
        try:
            if zip64_everywhere:
                zipfile.ZIP64_LIMIT = 4  # zipfile's own writer then puts sizes and offsets in ZIP64 extras
            with zipfile.ZipFile(buffer, "a" if prefix else "w") as z:
                for n, name in enumerate(names):
                    info = zipfile.ZipInfo(name, (1980 + n % 40, 1 + n % 12, 1 + n % 28, n % 24, n % 60, (n % 30) * 2))
                    if comment_every and n % comment_every == 0:
                        info.comment = b"c" * (n % 9000)
                        info.extra = struct.pack("<2H", 0xCAFE, 400) + b"e" * 400
                    z.writestr(info, b"" if name.endswith(("/", "__init__.py")) else f"print({n})\n".encode())
                z.writestr("cp437/caf\u00e9.py", b"print('cp437')\n")
        finally:
            zipfile.ZIP64_LIMIT = limit
    blob = bytearray(buffer.getvalue())
    raw = "cp437/caf\u00e9.py".encode()  # then drop its UTF-8 flag: its name is read as cp437 bytes
    for sig, flag_at in ((b"PK\x01\x02", 8), (b"PK\x03\x04", 6)):
        at = _record_of(blob, raw, sig)
        blob[at + flag_at : at + flag_at + 2] = struct.pack("<H", struct.unpack_from("<H", blob, at + flag_at)[0] & ~0x800)
    path.write_bytes(bytes(blob))
    return path


def _record_of(blob: bytearray, name: bytes, sig: bytes) -> int:
    """The start of the last record of kind ``sig`` (central or local) that names ``name``."""
    offset = 46 if sig == b"PK\x01\x02" else 30
    at = len(blob)
    while True:
        at = blob.rfind(sig, 0, at)
        assert at >= 0, name
        if blob[at + offset : at + offset + len(name)] == name:
            return at


def dict_parse(path: Path) -> Any:
    """What the dict parse says about ``path``: its index or its error."""
    with open(path, "rb") as f:
        return outcome(lambda: index_module.read_index(reader(f), os.fstat(f.fileno()).st_size, str(path)))


def first_run(path: Path) -> Any:
    """What a first run says about ``path``: the streamed index, or its error (no stored table: a fresh cache)."""
    clear_cache()
    cache.reset()
    return outcome(lambda: Archive.open(path))


def outcome(call: Callable[[], Any]) -> Any:
    """``(members, dirs, refused)`` compared as plain values, or ``(error type, message, member)``."""
    try:
        found = call()
    except ZrunError as exc:
        return type(exc), str(exc), getattr(exc, "member", None)
    members, dirs, refused = (found.members, found.dirs, found.refused) if isinstance(found, Archive) else found
    return dict(members), set(dirs), list(refused)


def test_first_run_searches_the_table_it_streamed(fresh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_big(fresh / "big.zip")
    monkeypatch.setattr(index_module, "_parse", lambda *a: pytest.fail("a first run of a large archive parses no dict"))
    first = Archive.open(path)
    assert first.table_backed(), "the first run searches the table, as later runs do"
    assert len(stored_entries(fresh)) == 1, "and stored it for them"
    assert first.read("big/one.py") == f"print({ONE})\n".encode(), "the duplicate written last wins"
    assert ZipSource(path).is_file("big/__init__.py")
    clear_cache()
    later = Archive.open(path)
    assert later.table_backed() and later is not first
    assert dict(later.members) == dict(first.members) and set(later.dirs) == set(first.dirs) and later.refused == first.refused


@pytest.mark.parametrize("kind", ["plain", "prefixed", "zip64 extras", "long comments"])
@pytest.mark.parametrize("chunk", [None, 997, 61])
def test_streamed_first_run_answers_what_the_dict_parse_answers(
    fresh: Path, monkeypatch: pytest.MonkeyPatch, kind: str, chunk: Any
) -> None:
    """Same members (times, offsets, sizes, CRCs), folders, refusals and lookups, however the directory is read."""
    options: Dict[str, Any] = {
        "prefixed": {"prefix": b"#!/usr/bin/env python3\n"},
        "zip64 extras": {"zip64_everywhere": True},
        "long comments": {"comment_every": 97},
    }.get(kind, {})
    path = write_big(fresh / "big.zip", **options)
    if chunk is not None:
        monkeypatch.setattr("zrun.zip.streamed.CHUNK", chunk)
    expected = dict_parse(path)
    assert isinstance(expected[0], dict) and len(expected[0]) > ENTRIES, expected
    assert sorted(expected[2]) == sorted(REFUSED)
    assert "cp437/caf\u00e9.py".encode().decode("cp437") in expected[0]
    assert first_run(path) == expected
    assert Archive.open(path).table_backed()
    clear_cache()
    with monkeypatch.context() as patched:
        patched.setattr(archive_module, "_INDEX_CACHE_MIN_BYTES", 1 << 62)
        parsed = ZipSource(path)
    first = first_source(path)
    assert not parsed.archive.table_backed() and first.archive.table_backed()
    names = [*expected[0], *(d + "/" for d in expected[1])]
    same_answers(parsed, first, names)
    for name in random.Random(1).sample(sorted(expected[0]), 200):
        assert first.read(name) == parsed.read(name), name


@pytest.mark.parametrize("kind", ["plain", "prefixed", "zip64 extras"])
def test_the_streamed_table_is_the_one_a_dict_parse_builds(fresh: Path, kind: str) -> None:
    """Byte for byte: later runs, the cache's checks and older entries see one format, whichever run wrote it."""
    options: Dict[str, Any] = {"prefixed": {"prefix": b"#!/usr/bin/env python3\n"}, "zip64 extras": {"zip64_everywhere": True}}
    path = write_big(fresh / "big.zip", **options.get(kind, {}))
    expected = tablebuild.build(dict_parse(path))
    assert expected is not None
    first_run(path)
    (entry,) = stored_entries(fresh)
    assert entry.read_bytes()[16:] == bytes(expected)  # after the cache's own 16-byte header


def first_source(path: Path) -> ZipSource:
    """A source over a first run's index (no table stored yet)."""
    clear_cache()
    for entry in stored_entries(path.parent):
        entry.unlink()
    cache.reset()
    return ZipSource(path)


def _patched(path: Path, how: str) -> None:
    """Damage the directory of a big archive ``how``, past its first few thousand bytes."""
    blob = bytearray(path.read_bytes())
    end = blob.rfind(b"PK\x05\x06")
    count, cd_size, cd_off = struct.unpack_from("<HLL", blob, end + 10)
    starts, p = [], cd_off
    while p < cd_off + cd_size:
        starts.append(p)
        nlen, xlen, clen = struct.unpack_from("<3H", blob, p + 28)
        p += 46 + nlen + xlen + clen
    victim = next(at for at in starts[len(starts) * 5 // 6 :] if blob[at + 46 : at + 55] == b"big/data/")
    if how == "bad signature":
        blob[victim : victim + 4] = b"PK\x01\x03"
    elif how == "count lies":
        struct.pack_into("<2H", blob, end + 8, count + 1, count + 1)
    elif how == "ZIP64 sizes without extra":
        struct.pack_into("<L", blob, victim + 24, 0xFFFFFFFF)
    elif how == "ZIP64 extra too short":
        nlen, xlen = struct.unpack_from("<2H", blob, victim + 28)
        struct.pack_into("<L", blob, victim + 42, 0xFFFFFFFF)  # the offset: the extra below says 0 bytes
        blob[victim + 46 + nlen : victim + 46 + nlen] = struct.pack("<2H", 1, 0)
        struct.pack_into("<H", blob, victim + 30, xlen + 4)
        struct.pack_into("<L", blob, end + 4 + 12, cd_size + 4)
    elif how == "bad UTF-8 name":
        nlen = struct.unpack_from("<H", blob, victim + 28)[0]
        blob[victim + 46 : victim + 48] = b"\xff\xfe"
        struct.pack_into("<H", blob, victim + 8, struct.unpack_from("<H", blob, victim + 8)[0] | 0x800)
        assert nlen > 2
    elif how == "NUL in a name":
        blob[victim + 47] = 0
    elif how == "last entry runs past its end":
        last = starts[-1]
        struct.pack_into("<H", blob, last + 32, struct.unpack_from("<H", blob, last + 32)[0] + 30)
    elif how == "directory cut short":
        del blob[victim + 10 : victim + 20]
        struct.pack_into("<L", blob, end - 10 + 12, cd_size - 10)
        struct.pack_into("<L", blob, end - 10 + 16, cd_off)
    else:
        raise AssertionError(how)
    path.write_bytes(bytes(blob))


DAMAGE = [
    "bad signature",
    "count lies",
    "ZIP64 sizes without extra",
    "ZIP64 extra too short",
    "bad UTF-8 name",
    "NUL in a name",
    "last entry runs past its end",
    "directory cut short",
]


@pytest.mark.parametrize("chunk", [None, 61])
@pytest.mark.parametrize("how", DAMAGE)
def test_damage_deep_in_a_large_directory_is_the_dict_parse_error(
    fresh: Path, monkeypatch: pytest.MonkeyPatch, how: str, chunk: Any
) -> None:
    path = write_big(fresh / "big.zip")
    _patched(path, how)
    if chunk is not None:
        monkeypatch.setattr("zrun.zip.streamed.CHUNK", chunk)
    expected = dict_parse(path)
    assert first_run(path) == expected
    if isinstance(expected[0], type):
        assert expected[1].startswith(f"{path}: "), expected
        assert stored_entries(fresh) == [], "nothing stored for an archive refused"
    else:
        assert how in ("bad UTF-8 name", "NUL in a name") and len(expected[2]) == len(REFUSED) + 1, expected[2]


def _seeds() -> List[Any]:
    return [pytest.param(blob, id=name) for name, blob in hostile.seeds()]


@pytest.mark.parametrize("blob", _seeds())
def test_hostile_archives_stream_to_what_the_dict_parse_gives(every_archive: Path, blob: bytes) -> None:
    """Every archive of the hostile corpus: the same index or the same typed error, naming the same member."""
    path = every_archive / "app.zip"
    path.write_bytes(blob)
    expected = dict_parse(path)
    got = first_run(path)
    assert got == expected
    if not isinstance(expected[0], type) and expected[0]:
        assert Archive.open(path).table_backed()
        for name in probes(list(expected[0])):
            assert Archive.open(path).members.get(name) == expected[0].get(name), name


def test_small_archives_keep_the_dict_parse(fresh: Path) -> None:
    path = fresh / "small.zip"
    with zipfile.ZipFile(path, "w") as z:
        for n in range(indexcache.MIN_ENTRIES - 1):
            z.writestr(f"pkg/m{n:04d}.py", "x = 1\n" * 12)
    assert path.stat().st_size >= indexcache.MIN_BYTES, "large enough to look for a stored table"
    archive = Archive.open(path)
    assert not archive.table_backed() and isinstance(archive.members, dict)
    assert stored_entries(fresh) == []


def test_a_directory_of_mostly_folders_keeps_the_dict_parse(fresh: Path) -> None:
    """Enough entries to stream, too few files for a stored table: parsed into a dict, as before, and not stored."""
    path = fresh / "folders.zip"
    with zipfile.ZipFile(path, "w") as z:
        for n in range(indexcache.MIN_ENTRIES):
            z.writestr(f"d{n:04d}/", b"")
        z.writestr("pkg/__init__.py", b"")
    assert path.stat().st_size >= indexcache.MIN_BYTES
    archive = Archive.open(path)
    assert not archive.table_backed() and list(archive.members) == ["pkg/__init__.py"]
    assert outcome(lambda: archive) == dict_parse(path)
    assert stored_entries(fresh) == []


def test_without_a_cache_the_first_run_searches_its_table_in_memory(fresh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_big(fresh / "big.zip")
    expected = dict_parse(path)
    monkeypatch.setenv("ZRUN_NO_CACHE", "1")
    cache.reset()
    clear_cache()
    archive = Archive.open(path)
    assert archive.table_backed() and outcome(lambda: archive) == expected
    assert stored_entries(fresh) == []


FIRST_RUN = """
import sys
from zrun.zip import index
def refuse(*args):
    raise SystemExit("a dict parse on the first run")
index._parse = refuse
from zrun.cli.main import main
raise SystemExit(main(sys.argv[1:]))
"""


def test_cli_first_and_later_runs(fresh: Path) -> None:
    """Real processes: a first run streams, stores and runs; a later run runs from what it stored."""
    path = write_big(fresh / "big.zip")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE")}
    env["ZRUN_CACHE_DIR"] = str(fresh / "cache")

    def run() -> Tuple[int, str, str]:
        out = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(FIRST_RUN), f"{path}:big.one"], env=env, capture_output=True, text=True, timeout=60
        )
        return out.returncode, out.stdout, out.stderr

    assert run() == (0, f"{ONE}\n", "")
    assert len(stored_entries(fresh)) == 1
    assert run() == (0, f"{ONE}\n", "")
