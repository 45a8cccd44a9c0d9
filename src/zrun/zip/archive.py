"""A lean zip reader: index the central directory once, read members on demand.

``zipfile`` costs ~30 ms to import, paid on every start-up of an executor that
runs code from archives, so this module (with :mod:`zrun.zip.files`, which
opens and parses the file, and :mod:`zrun.zip.index`, the central directory)
reads members with ``struct`` and ``zlib`` only; other compression methods are
:mod:`zrun.zip.methods`, imported when such a member is read.
"""

from __future__ import annotations

import os
import struct
import zlib

from ..errors import ArchiveError, ArchiveNotFound, CorruptArchive, MemberTooLarge, UnsupportedMember
from .files import identity, open_archive, parse, reader
from .files import missing as missing  # frozen.py and the engine import these two from here
from .files import open_regular as open_regular
from .index import Member, read_index

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import AbstractSet, Callable, Mapping, Optional

    from .index import Fetch as _Fetch
    from .index import Index as _Index
_LOCAL = struct.Struct("<4s22x2H")  # 30 bytes: signature, name and extra lengths


#: The largest member read into memory (its inflated or its stored size): a
#: larger one is refused by its declared size, before a byte is read, since
#: capping inflation at the declared size stops only bombs that lie about it.
MAX_MEMBER_SIZE = 1 << 30
_MAX_ENV = "ZRUN_MAX_MEMBER_SIZE"


def max_member_size(path: str = "", member: str | None = None) -> int:
    """``ZRUN_MAX_MEMBER_SIZE`` in bytes if set, else :data:`MAX_MEMBER_SIZE`.

    Read at every call so a host (or a test) can change it while running; a
    value that is no byte count is an error naming the member being read.
    """
    text = os.environ.get(_MAX_ENV)
    if not text:
        return MAX_MEMBER_SIZE
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise ArchiveError(path, f"{_MAX_ENV}={text!r} is not a number of bytes", member)
    return value


def _limit(path: str, member: str, cap: Optional[int]) -> tuple[int, str]:
    """The size limit of one read and what to say about raising it."""
    limit = max_member_size(path, member)
    if cap is not None and cap < limit:
        return cap, ""
    return limit, f" ({_MAX_ENV} raises it)"


class StaleArchive(CorruptArchive):
    """The file changed after it was indexed, so offsets may lie: open it again."""


class MissingMember(ArchiveError):
    """read() was asked for a name the archive lacks (not a KeyError, on purpose)."""


_cache: dict[str, Archive] = {}
_INDEX_CACHE_MIN_BYTES = 1000 * 78  # = zrun.zip.indexcache.MIN_BYTES, kept here so small archives skip the import


def clear_cache() -> None:
    """Drop every cached index."""
    _cache.clear()


class Archive:
    """An indexed zip file or buffer: members are looked up by name and read lazily.

    ``members`` and ``dirs`` are a ``dict`` and a ``frozenset`` after a parse,
    or views searched in place in a cached table (:mod:`zrun.zip.table`):
    code that wants to know which should call :meth:`table_backed`.
    """

    __slots__ = ("_data", "_size", "dirs", "identity", "members", "path", "refused")
    path: str
    members: Mapping[str, Member]
    dirs: AbstractSet[str]
    identity: tuple[int, ...]
    refused: list[str]

    def __init__(self, path: str, index: _Index, identity: tuple[int, ...], size: int, data: bytes | None = None) -> None:
        self.path = path
        self.members, self.dirs, self.refused = index
        self.identity = identity
        self._size = size
        self._data = data

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Archive:
        """The cached index if the file is unchanged (one stat), else a fresh one."""
        apath = os.path.abspath(path)
        cached = _cache.get(apath)
        if cached is not None and not cached.is_stale():
            return cached
        _cache.pop(apath, None)
        f, st = open_archive(apath)
        with f:
            large = st.st_size >= _INDEX_CACHE_MIN_BYTES  # else the lookup costs more than a parse
            if large:
                from . import indexcache  # lazily: small archives never load it
            index: Optional[_Index] = indexcache.load(apath, st) if large else None
            if index is None:  # a large one is streamed into a table, stored and searched; a small one parsed
                index = indexcache.first_run(f, st, apath) if large else parse(f, st, apath)
        archive = _cache[apath] = cls(apath, index, identity(st), st.st_size)
        return archive

    def table_backed(self) -> bool:
        """Are ``members`` searched in a cached table (not a ``dict`` of every entry)?"""
        return not isinstance(self.members, dict)

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview, label: str = "<memory zip>") -> Archive:
        """Index an in-memory zip (copied only if mutable); nothing touches the disk."""
        blob = bytes(data)
        index = read_index(lambda p, n: blob[p:p + n], len(blob), label)
        return cls(label, index, (len(blob), zlib.crc32(blob)), len(blob), blob)

    def is_stale(self) -> bool:
        """One stat: has the file changed or gone since it was indexed?"""
        if self._data is not None:
            return False
        try:
            return identity(os.stat(self.path)) != self.identity
        except OSError:
            return True

    def read(self, name: str, limit: Optional[int] = None) -> bytes:
        """A member's data, decompressed and CRC-checked; the file is opened per read.

        ``limit`` (bytes) lowers the size limit for this read, for members such
        as metadata that have no business being large. Running out of memory
        is :class:`~zrun.errors.MemberTooLarge` naming the member and its size,
        not a bare ``MemoryError`` from ``zlib``.
        """
        m = self.members.get(name)
        if m is None:
            raise MissingMember(self.path, "no such member in the archive", name)
        if m.flags & 1:
            raise UnsupportedMember(self.path, "encrypted members are not supported", name)
        decoder = _decoder(self.path, m)
        limit, hint = _limit(self.path, name, limit)
        if m.size > limit or m.compressed_size > limit:  # an honest bomb says what it is: believe it
            declared = max(m.size, m.compressed_size)
            raise MemberTooLarge(self.path, f"declares {declared} bytes, over the {limit}-byte limit{hint}", name)
        try:
            return _decode(self.path, m, self._read(m), decoder)
        except MemoryError:
            raise MemberTooLarge(self.path, f"not enough memory to read its {m.size} bytes "
                                            f"({m.compressed_size} compressed)", name) from None

    def _read(self, m: Member) -> bytes:
        """The member's raw (compressed) bytes, from the buffer or from the file, if it is still the indexed one."""
        name = m.name
        data = self._data
        if data is not None:
            return self._raw(m, lambda p, n: data[p:p + n])
        try:
            f, st = open_archive(self.path)
        except ArchiveNotFound:
            raise StaleArchive(self.path, "archive was removed after it was indexed", name) from None
        with f:
            if identity(st) != self.identity:
                raise StaleArchive(self.path, "archive changed on disk after it was indexed; open it again", name)
            try:
                return self._raw(m, reader(f))
            except OSError as e:
                raise ArchiveError(self.path, f"cannot read: {e}", name) from e

    def _raw(self, m: Member, fetch: _Fetch) -> bytes:
        """Check the local header, then return exactly compressed_size bytes."""
        want = m.name.encode("utf-8" if m.flags & 0x800 or m.name.isascii() else "cp437")  # (ASCII: the same bytes, no codec import)
        if m.header_offset > self._size:  # up to 64 bits from the file: never seek there
            raise CorruptArchive(self.path, "local header offset lies past the end of the file", m.name)
        head = fetch(m.header_offset, _LOCAL.size + len(want))
        if len(head) < _LOCAL.size:
            raise CorruptArchive(self.path, "local header is truncated", m.name)
        sig, nlen, xlen = _LOCAL.unpack_from(head)
        if sig != b"PK\x03\x04":
            raise CorruptArchive(self.path, "bad local header signature", m.name)
        if nlen != len(want) or head[_LOCAL.size:] != want:
            raise CorruptArchive(self.path, "local header names another member", m.name)
        start = m.header_offset + _LOCAL.size + nlen + xlen
        n = m.compressed_size  # compared with the file size first: never allocate for a lie
        raw = fetch(start, n) if start + n <= self._size else b""
        if len(raw) != n:
            raise CorruptArchive(self.path, "member data is truncated", m.name)
        return raw


def _decoder(path: str, m: Member) -> Callable[[str, str, bytes, int], bytes]:
    """The decoder of ``m``'s compression method; an unknown method is refused by name."""
    decoder = _DECODERS.get(m.method)
    if decoder is None:
        from . import methods

        decoder = methods.DECODERS.get(m.method)
        if decoder is None:
            raise UnsupportedMember(path, f"compression method {methods.name(m.method)} is not supported", m.name)
    return decoder


def _decode(path: str, m: Member, raw: bytes, decoder: Callable[[str, str, bytes, int], bytes]) -> bytes:
    """Decompress with output capped one byte past the declared size, then verify."""
    try:
        out = decoder(path, m.name, raw, m.size + 1)
    except (zlib.error, OSError, EOFError, ValueError) as e:
        from .methods import NAMES

        raise CorruptArchive(path, f"{NAMES[m.method]} data is damaged: {e}", m.name) from e
    if len(out) > m.size:
        raise CorruptArchive(path, f"data decompresses past its declared {m.size} bytes", m.name)
    if len(out) < m.size:
        raise CorruptArchive(path, f"data is truncated ({len(out)} of {m.size} bytes)", m.name)
    if zlib.crc32(out) != m.crc:
        raise CorruptArchive(path, "bad CRC: the member's data is damaged", m.name)
    return out


def _stored(path: str, name: str, raw: bytes, limit: int) -> bytes:
    return raw


def _inflate(path: str, name: str, raw: bytes, limit: int) -> bytes:
    return zlib.decompressobj(-15).decompress(raw, limit)


#: The methods decoded here, with ``zlib`` alone; the others are :mod:`zrun.zip.methods`'.
_DECODERS: dict[int, Callable[[str, str, bytes, int], bytes]] = {0: _stored, 8: _inflate}
