"""A parsed central directory laid out for lookup in place: sorted, fixed-size, bisected.

Decoding a whole index into a Python object per entry costs time and memory
in proportion to the archive (1,000,000 entries: ~400 ms and ~400 MB) even
when a run imports three modules. This layout is
searched where it lies, so a run decodes only the entries it asks about and
reads only the chunks its bisections visit.

Layout (little-endian; offsets from the start of the payload)::

    header   64 bytes  magic, chunk size, counts and lengths, header CRC-32
    crcs     4 bytes per chunk: CRC-32 of each CHUNK-byte slice of the data
    data     member records (48 bytes each, sorted by UTF-8 name),
             directory records (8 bytes each, sorted), the names, the
             refused names (marshal)

The table is read with ``pread`` chunk by chunk (16 KiB), not mapped: on
this machine's kernel a fault in a mapping made tens of MB resident for two
dozen chunks used (docs/cache.md). Integrity without reading tens of MB per
run: the header's CRC covers the header and the chunk CRC table; the payload's
length must equal the header's; the last chunk (where a torn write shows) is
checked at open; every other chunk is checked when it is first read, and kept. A damaged chunk raises
:class:`Damaged`, and :class:`Table` then answers from a fresh parse of the
archive (the caller's ``reparse``), which also rewrites the entry.
"""

from __future__ import annotations

import marshal
import struct
import zlib
from _collections_abc import ItemsView, Mapping, Set, ValuesView

from .zipindex import Member

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any, Dict, FrozenSet, List, Optional, Tuple

    Index = Tuple[Dict[str, Member], FrozenSet[str], List[str]]

MAGIC = b"ZRX1"
_HEAD = struct.Struct("<4sI6Q")  # magic, chunk, members, dirs, names, refused bytes, data length, reserved
_HEAD_SIZE = 64  # _HEAD (56), its CRC-32 (4), padding
_RECORD = struct.Struct("<IIQQQdIHH")  # name offset and length, header offset, csize, size, mtime, crc, method, flags
_DIR = struct.Struct("<II")  # name offset and length
_SPAN = struct.Struct("<II")
CHUNK = 1 << 14


class Damaged(Exception):
    """A chunk of the table does not match its CRC: the entry cannot be trusted."""


def build(index: Index) -> Optional[bytes]:
    """The table for ``index``, or ``None`` if it cannot be laid out (names over 4 GiB)."""
    members, dirs, refused = index
    names = bytearray()
    records = []
    pack = _RECORD.pack
    for name in sorted(members, key=_key):
        m = members[name]
        raw = _key(name)
        records.append(pack(len(names), len(raw), m[1], m[3], m[4], m[6], m[5], m[2], m[7]))
        names += raw
    dir_records = []
    for name in sorted(dirs, key=_key):
        raw = _key(name)
        dir_records.append(_DIR.pack(len(names), len(raw)))
        names += raw
    if len(names) >= 1 << 32:
        return None
    rejected = marshal.dumps(list(refused))
    data = b"".join(records) + b"".join(dir_records) + names + rejected
    crcs = b"".join(zlib.crc32(data[i:i + CHUNK]).to_bytes(4, "little") for i in range(0, len(data), CHUNK))
    head = _HEAD.pack(MAGIC, CHUNK, len(members), len(dirs), len(names), len(rejected), len(data), 0)
    crc = zlib.crc32(crcs, zlib.crc32(head)).to_bytes(4, "little")
    return head + crc + bytes(_HEAD_SIZE - len(head) - 4) + crcs + data


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
        if size - self._data != length or length != self.n * 48 + self.ndirs * 8 + names + refused:
            raise Damaged("length")
        self._read, self._crcs, self._chunks = read, crcs, {}  # type: Tuple[Callable[[int, int], bytes], bytes, Dict[int, bytes]]
        self._dirs_at = self.n * 48
        self._names_at = self._dirs_at + self.ndirs * 8
        self._names_len = names
        self._reparse = reparse
        self.parsed: Optional[Index] = None
        self._chunk(max(0, length - 1) // CHUNK)  # the tail: where a torn write shows
        self.refused: List[str] = marshal.loads(self._bytes(length - refused, length))

    # Reading: chunk by chunk, each checked against its CRC once and kept.
    def _chunk(self, c: int) -> bytes:
        piece = self._chunks.get(c)
        if piece is None:
            piece = self._read(self._data + c * CHUNK, CHUNK)
            if zlib.crc32(piece) != int.from_bytes(self._crcs[4 * c:4 * c + 4], "little"):
                raise Damaged(f"chunk {c}")
            self._chunks[c] = piece
        return piece

    def _check(self, start: int, end: int) -> None:
        for c in range(start // CHUNK, (end - 1) // CHUNK + 1):
            self._chunk(c)

    def _bytes(self, start: int, end: int) -> bytes:
        first, last = start // CHUNK, (end - 1) // CHUNK
        if first == last:
            return self._chunk(first)[start - first * CHUNK:end - first * CHUNK]
        joined = b"".join(self._chunk(c) for c in range(first, last + 1))
        return joined[start - first * CHUNK:end - first * CHUNK]

    def _name(self, table: int, i: int) -> bytes:
        size = 48 if table == 0 else 8
        off, n = _SPAN.unpack(self._bytes(table + i * size, table + i * size + 8))
        return self._bytes(self._names_at + off, self._names_at + off + n)

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
        _, _, offset, csize, size, mtime, crc, method, flags = _RECORD.unpack(self._bytes(i * 48, i * 48 + 48))
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

    def has_dir(self, name: str) -> bool:
        if self.parsed is None:
            try:
                key = _key(name)
                i = self._bisect(self._dirs_at, self.ndirs, key)
                return i < self.ndirs and self._name(self._dirs_at, i) == key
            except Damaged:
                pass
        return name in self._recover()[1]

    def scan(self) -> Iterator[Member]:
        """Every member in name order (all records checked first, so a scan never stops halfway)."""
        if self.parsed is None:
            try:
                if self.n:
                    self._check(0, self._dirs_at)
                    self._check(self._names_at, self._names_at + self._names_len)
                return self._scan()
            except Damaged:
                pass
        members = self._recover()[0]
        return iter([members[k] for k in sorted(members, key=_key)])

    def _scan(self) -> Iterator[Member]:
        for i in range(self.n):
            yield self._member(i, self._name(0, i).decode("utf-8", "surrogatepass"))

    def dir_names(self) -> List[str]:
        if self.parsed is None:
            try:
                return [self._name(self._dirs_at, i).decode("utf-8", "surrogatepass") for i in range(self.ndirs)]
            except Damaged:
                pass
        return sorted(self._recover()[1], key=_key)

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
        return (m[0] for m in self._table.scan())

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
        return self._table.has_dir(full) if self._dirs else self._table.get(full) is not None

    def __iter__(self) -> Iterator[str]:
        cut, prefix = len(self._prefix), self._prefix
        names = self._table.dir_names() if self._dirs else (m[0] for m in self._table.scan())
        return (n[cut:] for n in names if n.startswith(prefix))

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def children(self, name: str) -> List[str]:
        """What :meth:`zrun.source.Source.children` answers for directory ``name``, unsorted."""
        full = f"{self._prefix}{name}/" if name else self._prefix
        cut = len(self._prefix)
        return [n[cut:] for n in self._table.children(full, self._dirs)]

    def below(self, prefix: str, dirs: bool) -> Names:
        """The files (or directories) below ``prefix`` (``""`` or ``"lib/"``), with it cut."""
        return Names(self._table, self._prefix + prefix, dirs)
