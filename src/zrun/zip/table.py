"""The stored index table, searched where it lies: lookups, membership and scans of its members.

Its format is :mod:`zrun.zip.tablebuild`'s. After a damaged chunk (:class:`Damaged`) a
:class:`Table` answers from a fresh parse (the caller's ``reparse``, which rewrites the entry).
"""

from __future__ import annotations

import marshal
import struct
import sys
import zlib

from ..stdlib import stdlib
from .index import Member
from .tablebuild import CHUNK, HEAD, HEAD_SIZE, MAGIC, PER_MEMBER
from .tablebuild import key as _key

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any, Dict, List, Optional, Tuple

    from .index import Index

_SPAN = struct.Struct("<II")


class Damaged(Exception):
    """A chunk of the table does not match its CRC: the entry cannot be trusted."""


def _native(column: Any) -> Any:
    """An array read from the table, in this machine's byte order."""
    if sys.byteorder != "little":
        column.byteswap()
    return column


def _after(prefix: bytes) -> bytes:
    """The least key greater than every key that starts with ``prefix + b"/"``."""
    return prefix + b"0"  # "0" follows "/"


class Table:
    """One stored table; answers lookups, membership and scans, or after damage a parse."""

    def __init__(self, read: Callable[[int, int], bytes], size: int, reparse: Callable[[], Index]) -> None:
        """``read(position, length)`` reads the payload of ``size`` bytes; :class:`Damaged` if its header, length or tail is wrong."""
        head = read(0, HEAD_SIZE)
        if len(head) != HEAD_SIZE:
            raise Damaged("short header")
        magic, chunk, self.n, self.ndirs, names, refused, length, _ = HEAD.unpack_from(head)
        if magic != MAGIC or chunk != CHUNK:
            raise Damaged("not a table of this format")
        nchunks = -(-length // CHUNK)
        crcs = read(HEAD_SIZE, 4 * nchunks)
        if int.from_bytes(head[56:60], "little") != zlib.crc32(crcs, zlib.crc32(head[:56])):
            raise Damaged("header CRC")
        self._data = HEAD_SIZE + 4 * nchunks  # where the data starts in the payload
        n = self.n
        self._dirs_at = 4 * (n + 1)  # the folders' name offsets
        self._columns = self._dirs_at + 4 * (self.ndirs + 1)  # header offsets, csizes, sizes, mtimes: 8 bytes each
        self._names_at = self._columns + (PER_MEMBER - 4) * n
        if size - self._data != length or length != self._names_at + names + refused:
            raise Damaged("length")
        self._read, self._crcs, self._nchunks = read, crcs, nchunks
        self._chunks: Dict[int, bytes] = {}
        self._decoded: Dict[Tuple[int, int], bytes] = {}  # names read by bisection: every search passes the same first ones
        self._hot: Any = None  # a zrun.zip.tablerows.Rows once lookups are many
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

    # What the views ask; each falls back to a parse once the table proves damaged.
    def _recover(self) -> Index:
        if self.parsed is None:
            self.parsed = self._reparse()
        return self.parsed

    def get(self, name: str) -> Optional[Member]:
        if self.parsed is None:
            try:
                hot = self._hot or self._rows()
                if hot is not None:
                    return hot.get(name)  # type: ignore[no-any-return]
                key = _key(name)
                i = self._bisect(0, self.n, key)
                if i < self.n and self._name(0, i) == key:
                    from .tablerows import row

                    return row(self._bytes, self._columns, self.n, i, name)
                return None
            except Damaged:
                pass
        return self._recover()[0].get(name)

    def _rows(self) -> Any:
        """A bisection per lookup while lookups are few (one import from a huge archive); once they outnumber
        a sixteenth of the names (importing most of an archive), every name read once (:mod:`zrun.zip.tablerows`)."""
        self._lookups += 1
        if self._lookups <= 64 + self.n // 16:
            return None
        from .tablerows import Rows, read_columns

        columns = lambda: read_columns(self._bytes, self._columns, self.n)  # noqa: E731
        self._hot = Rows(self._names(0, 0, self.n), self._names(self._dirs_at, 0, self.ndirs), columns)
        return self._hot

    def _bisected(self, table: int, count: int, name: str) -> bool:
        i = self._bisect(table, count, _key(name))
        return i < count and self._name(table, i) == _key(name)

    def has(self, name: str) -> bool:
        """Whether member ``name`` exists: :meth:`get` without decoding the member."""
        if self.parsed is None:
            try:
                hot = self._hot or self._rows()
                return name in hot.rows if hot is not None else self._bisected(0, self.n, name)
            except Damaged:
                pass
        return name in self._recover()[0]

    def has_dir(self, name: str) -> bool:
        if self.parsed is None:
            try:
                hot = self._hot or self._rows()
                return name in hot.folders if hot is not None else self._bisected(self._dirs_at, self.ndirs, name)
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
        from .tablerows import read_columns

        names = self._names(0, 0, self.n)
        offset, csize, size, mtime, crc, method, flags = read_columns(self._bytes, self._columns, self.n)
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
