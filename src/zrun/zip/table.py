"""A parsed central directory laid out for lookup in place: sorted, fixed-size, bisected.

Decoding a whole index into a Python object per entry costs time and memory
in proportion to the archive (1,000,000 entries: ~400 ms and ~400 MB) even
when a run imports three modules. This layout is searched where it lies, so
a run decodes only the entries it asks about and reads only the chunks its
bisections visit.

Layout (little-endian; offsets from the start of the payload)::

    header   64 bytes  magic, chunk size, counts and lengths, header CRC-32
    crcs     4 bytes per chunk: CRC-32 of each CHUNK-byte slice of the data
    data     fixed-size columns, the members sorted by UTF-8 name: name
             offsets (n + 1, 4 bytes each), folder name offsets (dirs + 1),
             local header offsets, compressed sizes, sizes (8 bytes each),
             mtimes (double), CRCs (4), methods, flags (2 each); then the
             member names and folder names, each set sorted and
             concatenated; the refused names (marshal)

The table is read with ``pread`` chunk by chunk (16 KiB), not mapped: on
this machine's kernel a fault in a mapping made tens of MB resident for two
dozen chunks used (docs/cache.md). Integrity without reading tens of MB per
run: the header's CRC covers the header and the chunk CRC table; the payload's
length must equal the header's; the last chunk (where a torn write shows) is
checked at open; every other chunk is checked when it is first read, and
kept. A damaged chunk raises :class:`Damaged`, and :class:`Table` then
answers from a fresh parse of the archive (the caller's ``reparse``, which
also rewrites the entry).
"""

from __future__ import annotations

import marshal
import struct
import sys
import zlib
from _collections_abc import ItemsView, Mapping, Set, ValuesView

from ..stdlib import stdlib
from .index import Member

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any, Dict, FrozenSet, List, Optional, Tuple

    Index = Tuple[Dict[str, Member], FrozenSet[str], List[str]]

MAGIC = b"ZRX1"
_HEAD = struct.Struct("<4sI6Q")  # magic, chunk, members, dirs, names, refused bytes, data length, reserved
_HEAD_SIZE = 64  # _HEAD (56), its CRC-32 (4), padding
#: The member columns after the name offsets: Member field, array type code (size).
_COLUMNS = ((1, "Q"), (3, "Q"), (4, "Q"), (6, "d"), (5, "I"), (2, "H"), (7, "H"))  # offset, csize, size, mtime, crc, method, flags
_PER_MEMBER = 4 + 8 + 8 + 8 + 8 + 4 + 2 + 2  # its name offset and its columns
_SPAN = struct.Struct("<II")
_MTIME = struct.Struct("<d")
_CRC = struct.Struct("<I")
CHUNK = 1 << 14


class Damaged(Exception):
    """A chunk of the table does not match its CRC: the entry cannot be trusted."""


def build(index: Index) -> Optional[bytearray]:
    """The table for ``index``, or ``None`` if it cannot be laid out (names over 4 GiB).

    Column by column through ``array`` (C loops: 1,000,000 entries in ~0.2 s,
    where a ``struct`` pack per record took 1.1 s), into one buffer: a first
    run already holds the parse, and joined copies would add to its peak.
    """
    array = stdlib("array").array  # stdlib(): never an archive's array.py (this runs inside imports)
    accumulate, itemgetter = stdlib("itertools").accumulate, stdlib("operator").itemgetter

    members, dirs, refused = index
    files, folders = sorted(members), sorted(dirs)  # code point order is UTF-8 byte order
    joined = "".join(files).encode("utf-8", "surrogatepass")
    folded = "".join(folders).encode("utf-8", "surrogatepass")
    offsets = array("I", [0])
    if offsets.itemsize != 4 or len(joined) + len(folded) >= 1 << 32:
        return None
    offsets.extend(accumulate(_sizes(files, joined)))
    offsets.extend(accumulate(_sizes(folders, folded), initial=len(joined)))  # (n + 1) then (dirs + 1) offsets
    rows = list(map(members.__getitem__, files))
    columns = [offsets, *(array(code, map(itemgetter(field), rows)) for field, code in _COLUMNS)]
    if sys.byteorder != "little":
        for column in columns:
            column.byteswap()
    rejected = marshal.dumps(list(refused))
    parts = [*columns, joined, folded, rejected]
    length = sum(len(part) * getattr(part, "itemsize", 1) for part in parts)
    nchunks = -(-length // CHUNK)
    start = _HEAD_SIZE + 4 * nchunks
    out = bytearray(start + length)
    at = start
    for part in parts:
        raw = memoryview(part).cast("B")  # arrays and bytes alike
        out[at:at + len(raw)] = raw
        at += len(raw)
    view = memoryview(out)
    for c in range(nchunks):
        lo = start + c * CHUNK
        _CRC.pack_into(out, _HEAD_SIZE + 4 * c, zlib.crc32(view[lo:lo + CHUNK]))
    _HEAD.pack_into(out, 0, MAGIC, CHUNK, len(files), len(folders), len(joined) + len(folded), len(rejected), length, 0)
    _CRC.pack_into(out, 56, zlib.crc32(view[_HEAD_SIZE:start], zlib.crc32(view[:56])))
    view.release()
    return out


def _sizes(names: List[str], joined: bytes) -> Iterator[int]:
    """The UTF-8 length of each name: its length in characters if they are all ASCII."""
    if len(joined) == sum(map(len, names)):
        return map(len, names)
    return (len(_key(name)) for name in names)


def _native(column: Any) -> Any:
    """An array read from the table, in this machine's byte order."""
    if sys.byteorder != "little":
        column.byteswap()
    return column


def _key(name: str) -> bytes:
    return name.encode("utf-8", "surrogatepass")  # UTF-8 byte order is code point order


def _after(prefix: bytes) -> bytes:
    """The least key greater than every key that starts with ``prefix + b"/"``."""
    return prefix + b"0"  # "0" follows "/"


class Table:
    """One stored table; answers lookups, membership and scans, or after damage a parse."""

    def __init__(self, read: Callable[[int, int], bytes], size: int, reparse: Callable[[], Index]) -> None:
        """``read(position, length)`` reads the payload of ``size`` bytes; :class:`Damaged` if its header, length or tail is wrong."""
        head = read(0, _HEAD_SIZE)
        if len(head) != _HEAD_SIZE:
            raise Damaged("short header")
        magic, chunk, self.n, self.ndirs, names, refused, length, _ = _HEAD.unpack_from(head)
        if magic != MAGIC or chunk != CHUNK:
            raise Damaged("not a table of this format")
        nchunks = -(-length // CHUNK)
        crcs = read(_HEAD_SIZE, 4 * nchunks)
        if int.from_bytes(head[56:60], "little") != zlib.crc32(crcs, zlib.crc32(head[:56])):
            raise Damaged("header CRC")
        self._data = _HEAD_SIZE + 4 * nchunks  # where the data starts in the payload
        n = self.n
        self._dirs_at = 4 * (n + 1)  # the folders' name offsets
        self._columns = self._dirs_at + 4 * (self.ndirs + 1)  # header offsets, csizes, sizes, mtimes: 8 bytes each
        self._names_at = self._columns + (_PER_MEMBER - 4) * n
        if size - self._data != length or length != self._names_at + names + refused:
            raise Damaged("length")
        self._read, self._crcs, self._nchunks = read, crcs, nchunks
        self._chunks: Dict[int, bytes] = {}
        self._decoded: Dict[Tuple[int, int], bytes] = {}  # names read by bisection: every search passes the same first ones
        self._known: Dict[int, FrozenSet[bytes]] = {}  # every name of a table, once lookups outnumber a fraction of it
        self._lookups = 0
        self._names_len = names
        self._reparse = reparse
        self.parsed: Optional[Index] = None
        self._chunk(max(0, length - 1) // CHUNK)  # the tail: where a torn write shows
        self.refused: List[str] = marshal.loads(self._bytes(length - refused, length))

    # Reading: chunk by chunk, each checked against its CRC once and kept.
    def _chunk(self, c: int) -> bytes:
        piece = self._chunks.get(c)
        if piece is None:
            if not 0 <= c < self._nchunks:  # only a format error could point there: never read past the end
                raise Damaged(f"chunk {c} of {self._nchunks}")
            piece = self._read(self._data + c * CHUNK, CHUNK)
            if zlib.crc32(piece) != int.from_bytes(self._crcs[4 * c:4 * c + 4], "little"):
                raise Damaged(f"chunk {c}")
            self._chunks[c] = piece
        return piece

    def _bytes(self, start: int, end: int) -> bytes:
        first, last = start // CHUNK, (end - 1) // CHUNK
        if first == last:
            return self._chunk(first)[start - first * CHUNK:end - first * CHUNK]
        joined = b"".join(self._chunk(c) for c in range(first, last + 1))
        return joined[start - first * CHUNK:end - first * CHUNK]

    def _name(self, table: int, i: int) -> bytes:
        """Name ``i`` of the members (``table`` 0) or the folders (``table`` at their offsets)."""
        name = self._decoded.get((table, i))
        if name is None:
            start, end = _SPAN.unpack(self._bytes(table + 4 * i, table + 4 * i + 8))
            name = self._decoded[(table, i)] = self._bytes(self._names_at + start, self._names_at + end)
        return name

    def _bisect(self, table: int, count: int, key: bytes, lo: int = 0) -> int:
        hi = count
        while lo < hi:
            mid = (lo + hi) // 2
            if self._name(table, mid) < key:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def _member(self, i: int, name: str) -> Member:
        n, at, get = self.n, self._columns, self._bytes
        offset, csize, size = (int.from_bytes(get(at + 8 * (k * n + i), at + 8 * (k * n + i) + 8), "little") for k in range(3))
        (mtime,) = _MTIME.unpack(get(at + 8 * (3 * n + i), at + 8 * (3 * n + i) + 8))
        at += 32 * n
        crc = int.from_bytes(get(at + 4 * i, at + 4 * i + 4), "little")
        at += 4 * n
        method = int.from_bytes(get(at + 2 * i, at + 2 * i + 2), "little")
        flags = int.from_bytes(get(at + 2 * (n + i), at + 2 * (n + i) + 2), "little")
        return tuple.__new__(Member, (name, offset, method, csize, size, crc, mtime, flags))

    # What the views ask; each falls back to a parse once the table proves damaged.
    def _recover(self) -> Index:
        if self.parsed is None:
            self.parsed = self._reparse()
        return self.parsed

    def get(self, name: str) -> Optional[Member]:
        if self.parsed is None:
            try:
                key = _key(name)
                i = self._bisect(0, self.n, key)
                return self._member(i, name) if i < self.n and self._name(0, i) == key else None
            except Damaged:
                pass
        return self._recover()[0].get(name)

    def _contains(self, table: int, count: int, key: bytes) -> bool:
        """A bisection per lookup while lookups are few (one import from a huge archive); once
        they outnumber a sixteenth of the names (importing most of an archive), every name in a set."""
        known = self._known.get(table)
        if known is None:
            self._lookups += 1
            if self._lookups <= 64 + count // 16:
                i = self._bisect(table, count, key)
                return i < count and self._name(table, i) == key
            known = self._known[table] = frozenset(self._name(table, i) for i in range(count))
        return key in known

    def has(self, name: str) -> bool:
        """Whether member ``name`` exists: :meth:`get` without decoding the member."""
        if self.parsed is None:
            try:
                return self._contains(0, self.n, _key(name))
            except Damaged:
                pass
        return name in self._recover()[0]

    def has_dir(self, name: str) -> bool:
        if self.parsed is None:
            try:
                return self._contains(self._dirs_at, self.ndirs, _key(name))
            except Damaged:
                pass
        return name in self._recover()[1]

    def scan(self) -> Iterator[Member]:
        """Every member in name order, decoded column-wise (all read and checked first: a scan never stops halfway)."""
        if self.parsed is None:
            try:
                return self._members()
            except Damaged:
                pass
        members = self._recover()[0]
        return iter([members[k] for k in sorted(members)])

    def _members(self) -> Iterator[Member]:
        names, n, at = self._names(0, 0, self.n), self.n, self._columns
        array, columns = stdlib("array").array, []
        for code in ("Q", "Q", "Q", "d", "I", "H", "H"):  # as _COLUMNS lays them out
            column = array(code)
            column.frombytes(self._bytes(at, at + column.itemsize * n))
            at += column.itemsize * n
            columns.append(_native(column))
        offset, csize, size, mtime, crc, method, flags = columns
        rows = zip(names, offset, method, csize, size, crc, mtime, flags)
        return map(tuple.__new__, stdlib("itertools").repeat(Member), rows)

    def names(self, prefix: str, dirs: bool) -> List[str]:
        """The member (or folder) names that start with ``prefix`` (``""`` or ``"a/b/"``), in order."""
        table, count = (self._dirs_at, self.ndirs) if dirs else (0, self.n)
        if self.parsed is None:
            try:
                lo, hi = self._range(table, count, prefix)
                return self._names(table, lo, hi)
            except Damaged:
                pass
        return sorted(n for n in self._recover()[1 if dirs else 0] if n.startswith(prefix))

    def _range(self, table: int, count: int, prefix: str) -> Tuple[int, int]:
        """Indexes ``[lo, hi)`` of the names that start with ``prefix``."""
        if not prefix:
            return 0, count
        key = _key(prefix)
        lo = self._bisect(table, count, key)
        return lo, self._bisect(table, count, _after(key[:-1]), lo)

    def _names(self, table: int, lo: int, hi: int) -> List[str]:
        """Names ``lo`` to ``hi`` of a table, read in two slices."""
        if lo >= hi:
            return []
        offsets = stdlib("array").array("I")
        offsets.frombytes(self._bytes(table + 4 * lo, table + 4 * hi + 4))
        _native(offsets)
        base = offsets[0]
        blob = self._bytes(self._names_at + base, self._names_at + offsets[-1])
        if blob.isascii():
            text = blob.decode("ascii")
            return [text[a - base:b - base] for a, b in zip(offsets, offsets[1:])]
        return [blob[a - base:b - base].decode("utf-8", "surrogatepass") for a, b in zip(offsets, offsets[1:])]

    def children(self, prefix: str, dirs: bool) -> List[str]:
        """Files (or directories) right below ``prefix`` (``""`` or ``"a/b/"``), skipping subtrees by bisection."""
        if self.parsed is None:
            try:
                return self._children(self._dirs_at, self.ndirs, prefix) if dirs else self._children(0, self.n, prefix)
            except Damaged:
                pass
        names = self._recover()[1 if dirs else 0]
        return [n for n in names if n.startswith(prefix) and "/" not in n[len(prefix):]]

    def _children(self, table: int, count: int, prefix: str) -> List[str]:
        key, found = _key(prefix), []
        i = self._bisect(table, count, key)
        while i < count:
            name = self._name(table, i)
            if not name.startswith(key):
                break
            slash = name.find(b"/", len(key))
            if slash < 0:
                found.append(name.decode("utf-8", "surrogatepass"))
                i += 1
            else:
                i = self._bisect(table, count, _after(name[:slash]), i)
        return found


class Members(Mapping):  # type: ignore[type-arg]
    """The members of a table, as the ``dict`` a parse makes: looked up, not loaded."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def __getitem__(self, name: str) -> Member:
        found = self._table.get(name) if isinstance(name, str) else None
        if found is None:
            raise KeyError(name)
        return found

    def get(self, name: str, default: Any = None) -> Any:
        found = self._table.get(name) if isinstance(name, str) else None
        return default if found is None else found

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._table.get(name) is not None

    def __len__(self) -> int:
        return len(self._table.parsed[0]) if self._table.parsed else self._table.n

    def __iter__(self) -> Iterator[str]:
        return iter(self._table.names("", dirs=False))

    def values(self) -> ValuesView[Member]:
        return _Values(self)

    def items(self) -> ItemsView[str, Member]:
        return _Items(self)


class _Values(ValuesView):  # type: ignore[type-arg]
    """One scan in name order, instead of a bisection per key."""

    def __init__(self, members: Members) -> None:
        super().__init__(members)
        self._table = members._table

    def __iter__(self) -> Iterator[Member]:
        return self._table.scan()


class _Items(ItemsView):  # type: ignore[type-arg]
    """One scan in name order, instead of a bisection per key."""

    def __init__(self, members: Members) -> None:
        super().__init__(members)
        self._table = members._table

    def __iter__(self) -> Iterator[Tuple[str, Member]]:
        return ((m[0], m) for m in self._table.scan())


class Names(Set):  # type: ignore[type-arg]
    """File or directory names of a table below ``prefix``, with the prefix cut: a set that is searched."""

    def __init__(self, table: Table, prefix: str, dirs: bool) -> None:
        self._table, self._prefix, self._dirs = table, prefix, dirs

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        full = self._prefix + name
        return self._table.has_dir(full) if self._dirs else self._table.has(full)

    def __iter__(self) -> Iterator[str]:
        cut = len(self._prefix)
        return (n[cut:] for n in self._table.names(self._prefix, self._dirs))

    def __len__(self) -> int:
        return len(self._table.names(self._prefix, self._dirs))

    def children(self, name: str) -> List[str]:
        """What :meth:`zrun.source.Source.children` answers for directory ``name``, unsorted."""
        full = f"{self._prefix}{name}/" if name else self._prefix
        cut = len(self._prefix)
        return [n[cut:] for n in self._table.children(full, self._dirs)]

    def below(self, prefix: str, dirs: bool) -> Names:
        """The files (or directories) below ``prefix`` (``""`` or ``"lib/"``), with it cut."""
        return Names(self._table, self._prefix + prefix, dirs)
