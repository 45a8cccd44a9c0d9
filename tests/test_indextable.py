"""The cached index searched in place (zrun.zip.table) answers exactly what a full parse answers.

Every test goes through real zip files and the real cache: a first open parses
and stores the table, a second open (after :func:`clear_cache`) searches it.
The size threshold is lowered so that small generated archives take that path.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path
from typing import Iterator, List

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from test_cache import big_archive
from zrun.cache import store as cache
from zrun.zip import archive as archive_module
from zrun.zip import files as files_module
from zrun.zip import indexcache
from zrun.zip import table as indextable
from zrun.zip.archive import Archive, clear_cache
from zrun.zip.source import ZipSource

_counter = itertools.count()


@pytest.fixture
def low_threshold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh cache, and every archive worth a cached index."""
    monkeypatch.setenv("ZRUN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("ZRUN_NO_CACHE", raising=False)
    monkeypatch.setattr(indexcache, "MIN_ENTRIES", 1)
    monkeypatch.setattr(indexcache, "MIN_BYTES", 0)
    monkeypatch.setattr(archive_module, "_INDEX_CACHE_MIN_BYTES", 0)
    cache.reset()
    clear_cache()
    yield tmp_path
    cache.reset()
    clear_cache()


segment = st.sampled_from(["a", "b", "pkg", "caf\u00e9", "\u00fcber", "z", "a.b", "a-b", "x", "x0", "x.py", "\u4e2d", "\U0001f600"])
member = st.lists(segment, min_size=1, max_size=4).map("/".join)
entry = st.one_of(member.map(lambda n: n + ".py"), member, member.map(lambda n: n + "/"))  # files, dir-like files, dir entries


def write(path: Path, names: List[str]) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names, on purpose
        with zipfile.ZipFile(path, "w") as z:
            for n, name in enumerate(names):
                z.writestr(name, b"" if name.endswith("/") else f"# {n}\n")
    return path


def both(path: Path, inner: str = "") -> tuple[ZipSource, ZipSource]:
    """A source over a parse of ``path`` and one over the table stored (by its first parse)."""
    target = os.path.join(path, inner) if inner else str(path)
    clear_cache()
    ZipSource(target)  # stores the table if not there yet
    clear_cache()
    threshold, archive_module._INDEX_CACHE_MIN_BYTES = archive_module._INDEX_CACHE_MIN_BYTES, 1 << 62
    try:
        parsed = ZipSource(target)  # too small for the table: parsed
    finally:
        archive_module._INDEX_CACHE_MIN_BYTES = threshold
    clear_cache()
    searched = ZipSource(target)
    assert not parsed.archive.table_backed() and searched.archive.table_backed()
    return parsed, searched


def probes(names: List[str]) -> List[str]:
    found = {""}
    for name in names:
        parts = name.rstrip("/").split("/")
        for depth in range(1, len(parts) + 1):
            found.add("/".join(parts[:depth]))
            found.add("/".join(parts[:depth]) + "x")
    return sorted(found)


def same_answers(parsed: ZipSource, searched: ZipSource, names: List[str]) -> None:
    assert list(searched.files()) == list(parsed.files())
    assert searched.archive.members == parsed.archive.members and dict(searched.archive.members) == dict(parsed.archive.members)
    assert set(searched.archive.dirs) == set(parsed.archive.dirs) and searched.archive.refused == parsed.archive.refused
    assert len(searched.archive.members) == len(parsed.archive.members)
    for name in probes(names):
        assert searched.is_file(name) == parsed.is_file(name), name
        assert searched.is_dir(name) == parsed.is_dir(name), name
        assert searched.children(name) == parsed.children(name), name
        assert searched.mtime(name) == parsed.mtime(name), name


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(entry, min_size=1, max_size=40))
def test_table_answers_what_the_parse_answers(low_threshold: Path, names: List[str]) -> None:
    names = [*names, "m.py"]  # one file at least: an archive of none is not stored
    path = write(low_threshold / f"t{next(_counter)}.zip", names + names[:3])  # duplicates too
    parsed, searched = both(path)
    same_answers(parsed, searched, names)
    for inner in {name.split("/")[0] for name in names if "/" in name.rstrip("/")}:
        if parsed.is_dir(inner):
            below, below_searched = both(path, inner)
            same_answers(below, below_searched, [n[len(inner) + 1:] for n in names if n.startswith(inner + "/")])


def test_refused_names_survive_the_table(low_threshold: Path) -> None:
    path = write(low_threshold / "r.zip", ["ok.py", "../evil.py", "/abs.py", "pkg/__init__.py"])
    parsed, searched = both(path)
    assert searched.archive.refused == parsed.archive.refused == ["../evil.py", "/abs.py"]
    same_answers(parsed, searched, ["ok.py", "pkg/__init__.py"])


def stored_entry(root: Path) -> Path:
    (found,) = [p for p in (root / "index").rglob("*") if p.is_file()]
    return found


def field_position(entry: Path, name: str, field: str) -> int:
    """Where the ``"csize"`` or ``"name end"`` of member ``name`` lies in the cache file (after 16 bytes of cache header)."""
    blob = entry.read_bytes()[16:]
    table = indextable.Table(lambda p, n: blob[p:p + n], len(blob), lambda: pytest.fail("intact"))  # type: ignore[arg-type,return-value]
    index = [m[0] for m in table.scan()].index(name)
    at = table._columns + 8 * (table.n + index) if field == "csize" else 4 * (index + 1)
    return 16 + table._data + at


def test_damaged_record_is_detected_in_use_and_the_entry_rebuilt(low_threshold: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = big_archive(low_threshold / "big.zip", 1000)
    expected = Archive.open(path).members["big/one.py"]
    entry = stored_entry(low_threshold / "cache")
    intact = entry.read_bytes()
    at = field_position(entry, "big/one.py", "csize")
    entry.write_bytes(intact[:at] + bytes([intact[at] ^ 0xFF]) + intact[at + 1:])
    clear_cache()
    loaded = Archive.open(path)
    assert loaded.table_backed(), "the damage lies in a chunk the open does not read"
    parses = []
    real = files_module.read_index
    monkeypatch.setattr(files_module, "read_index", lambda *a: parses.append(1) or real(*a))
    assert loaded.members["big/one.py"] == expected, "answered from a fresh parse, not the damaged record"
    assert loaded.read("big/one.py") == b"print('one')\n"
    assert parses == [1] and entry.read_bytes() == intact, "parsed once, and the entry rewritten whole"
    assert loaded.members.get("big/__init__.py") is not None and "big/data" in loaded.dirs  # the parse answers from now on
    assert parses == [1]


@pytest.mark.parametrize("where", ["header", "crc table", "tail", "length"])
def test_damage_seen_at_open_means_a_parse(low_threshold: Path, where: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The damaged entry is not used: the archive is parsed as on a first run (streamed into a fresh table) and the entry rewritten."""
    path = big_archive(low_threshold / "big.zip", 1000)
    expected = dict(Archive.open(path).members)
    entry = stored_entry(low_threshold / "cache")
    data = entry.read_bytes()
    at = {"header": 16 + 20, "crc table": 16 + 64 + 2, "tail": len(data) - 1}.get(where)
    entry.write_bytes(data[:-1] if at is None else data[:at] + bytes([data[at] ^ 0x55]) + data[at + 1:])
    clear_cache()
    assert indexcache.load(str(path), os.stat(path)) is None
    parses = []
    real = files_module.read_index
    monkeypatch.setattr(files_module, "read_index", lambda *a: parses.append(1) or real(*a))
    reopened = Archive.open(path)
    assert parses == [1] and dict(reopened.members) == expected
    assert entry.read_bytes() == data, "rewritten by the parse"


def test_cli_runs_through_a_damaged_entry(low_threshold: Path) -> None:
    """A real second run with a record on its bisection path damaged: it runs, and the entry is whole again."""
    path = big_archive(low_threshold / "big.zip", indexcache.MIN_ENTRIES if indexcache.MIN_ENTRIES > 1 else 1000)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE")}

    def run() -> str:
        out = subprocess.run([sys.executable, "-m", "zrun", f"{path}:big.one"], env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return out.stdout

    assert run() == "one\n"
    entry = stored_entry(low_threshold / "cache")
    intact = entry.read_bytes()
    at = field_position(entry, "big/one.py", "name end")
    entry.write_bytes(intact[:at] + bytes([intact[at] ^ 0x01]) + intact[at + 1:])
    assert run() == "one\n"
    assert entry.read_bytes() == intact


def test_a_lookup_reads_a_few_chunks_of_a_large_table(low_threshold: Path) -> None:
    """The point of the table: one import's lookups read a bisection's chunks, not the whole index."""
    path = low_threshold / "large.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("hello/__init__.py", "")
        for n in range(50_000):
            z.writestr(f"filler/{n // 1000:03d}/{n:06d}.txt", "")
    clear_cache()
    Archive.open(path)
    clear_cache()
    source = ZipSource(path)
    table = source.archive.dirs._table  # type: ignore[attr-defined]
    assert table._nchunks > 150
    assert source.is_file("hello/__init__.py") and source.is_dir("filler/049") and not source.is_file("hello/x.py")
    assert source.children("") == ["filler", "hello"] and source.children("hello") == ["hello/__init__.py"]
    assert len(table._chunks) <= 40, f"{len(table._chunks)} of {table._nchunks} chunks read"


def test_many_lookups_are_answered_from_rows_without_bisection(low_threshold: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Importing most of an archive (issue 16's warm 2,000 modules) looks up most names: past a fraction of
    them, ``get``/``has``/``has_dir`` answer from every name read once, and answer exactly what a parse answers."""
    path = big_archive(low_threshold / "big.zip", 1000)
    parsed, searched = both(path)
    table = searched.archive.dirs._table  # type: ignore[attr-defined]
    names = sorted(parsed.archive.members)
    for name in names[:400]:  # past 64 + n / 16 lookups
        assert searched.archive.members.get(name) == parsed.archive.members[name]
    bisections = []
    real = indextable.Table._bisect
    monkeypatch.setattr(indextable.Table, "_bisect", lambda *a: bisections.append(1) or real(*a))
    for name in [*names, *probes(names[:50]), "big/none.py", "big/data/d999"]:
        assert searched.archive.members.get(name) == parsed.archive.members.get(name), name
        assert searched.is_file(name) == parsed.is_file(name) and searched.is_dir(name) == parsed.is_dir(name), name
    assert bisections == [], f"{len(bisections)} bisections after the rows were read"
    assert table.parsed is None, "answered by the table, not by a parse"
