"""A lean zip reader: index the central directory once, read members on demand.

``zipfile`` costs ~30 ms to import, paid on every start-up of an executor that
runs code from archives, so this module (with :mod:`zrun.zip.index`, which
parses the central directory) decodes the format with ``struct`` and ``zlib``
only and imports ``bz2``/``lzma``/Zstandard lazily, when such a member is read.
"""

from __future__ import annotations

import errno
import os
import stat
import struct
import zlib

from ..errors import ArchiveError, ArchiveNotFound, CorruptArchive, MemberTooLarge, UnsupportedMember
from ..stdlib import own_import, stdlib
from .index import Member, read_index

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType
    from typing import AbstractSet, BinaryIO, List, Mapping, Optional, Tuple, Union

    from .index import Fetch as _Fetch
    from .index import Index as _Parsed

    _Index = Union[_Parsed, Tuple[Mapping[str, Member], AbstractSet[str], List[str]]]
_LOCAL = struct.Struct("<4s22x2H")  # 30 bytes: signature, name and extra lengths
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)  # no FIFO hang
_METHODS = {0: "stored", 1: "shrink", 6: "implode", 8: "deflate", 9: "deflate64", 12: "bzip2",
            14: "lzma", 93: "zstandard", 95: "xz", 98: "ppmd", 99: "WinZip AES"}


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

    def __init__(self, path: str, index: _Index, identity: tuple[int, ...], size: int,
                 data: bytes | None = None) -> None:
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
        f, st = _open(apath)
        with f:
            large = st.st_size >= _INDEX_CACHE_MIN_BYTES  # else the lookup costs more than a parse
            if large:
                from . import indexcache  # lazily: small archives never load it
            index: Optional[_Index] = indexcache.load(apath, st) if large else None
            if index is None:
                parsed = _parse(f, st, apath)
                if large:
                    indexcache.store(apath, st, parsed)
                index = parsed
        archive = _cache[apath] = cls(apath, index, _identity(st), st.st_size)
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

    @classmethod
    def forget(cls, path: str | os.PathLike[str]) -> None:
        """Drop one cached index so the next open() rereads the file."""
        _cache.pop(os.path.abspath(path), None)

    def is_stale(self) -> bool:
        """One stat: has the file changed or gone since it was indexed?"""
        if self._data is not None:
            return False
        try:
            return _identity(os.stat(self.path)) != self.identity
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
        if m.method not in _DECODERS:
            what = f"{m.method} ({_METHODS.get(m.method, 'unknown')})"
            raise UnsupportedMember(self.path, f"compression method {what} is not supported", name)
        limit, hint = _limit(self.path, name, limit)
        if m.size > limit or m.compressed_size > limit:  # an honest bomb says what it is: believe it
            declared = max(m.size, m.compressed_size)
            raise MemberTooLarge(self.path, f"declares {declared} bytes, over the {limit}-byte limit{hint}", name)
        try:
            return self._read(m)
        except MemoryError:
            raise MemberTooLarge(self.path, f"not enough memory to read its {m.size} bytes "
                                            f"({m.compressed_size} compressed)", name) from None

    def _read(self, m: Member) -> bytes:
        name = m.name
        data = self._data
        if data is not None:
            return _decode(self.path, m, self._raw(m, lambda p, n: data[p:p + n]))
        try:
            f, st = _open(self.path)
        except ArchiveNotFound:
            raise StaleArchive(self.path, "archive was removed after it was indexed", name) from None
        with f:
            if _identity(st) != self.identity:
                raise StaleArchive(self.path, "archive changed on disk after it was indexed; open it again", name)
            try:
                raw = self._raw(m, _reader(f))
            except OSError as e:
                raise ArchiveError(self.path, f"cannot read: {e}", name) from e
        return _decode(self.path, m, raw)

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


def _parse(f: BinaryIO, st: os.stat_result, path: str) -> _Parsed:
    try:
        return read_index(_reader(f), st.st_size, path)
    except OSError as e:  # a dying disk or NFS mount: still an error naming the archive
        raise ArchiveError(path, f"cannot read: {e}") from e


def parse_again(path: str, st: os.stat_result) -> tuple[_Parsed, bool]:
    """A fresh parse for a cached table found damaged in use, and whether the file is still ``st``'s."""
    f, now = _open(path)
    with f:
        return _parse(f, now, path), _identity(now) == _identity(st)


def _identity(st: os.stat_result) -> tuple[int, ...]:
    """What changes when the file is rewritten; the change time too, which no user can set (``cp -p`` restores mtime)."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class NotRegularFile(OSError):
    """A directory, FIFO or device where a file was expected (``errno`` EISDIR for a directory)."""


def open_regular(path: str) -> tuple[BinaryIO, os.stat_result]:
    """Open a regular file to read, never blocking on a FIFO; anything else is an ``OSError``.

    Checked on the opened descriptor, so the file cannot be swapped between
    the check and the read.
    """
    fd = os.open(path, _OPEN_FLAGS)
    try:  # the descriptor is ours until open() below owns it
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFile(errno.EISDIR if stat.S_ISDIR(st.st_mode) else errno.EINVAL, "not a regular file", path)
    except BaseException:
        os.close(fd)
        raise
    return open(fd, "rb"), st


def missing(path: str) -> OSError:
    """Why ``path`` is no file, as ``os.stat`` says: ``ENOENT``, or ``ELOOP`` for a symlink loop, ``EACCES``...

    For messages that name the real errno, as ``python PATH`` does, where a
    bare "does not exist" would send the user looking for a typo.
    """
    try:
        os.stat(path)
    except OSError as e:
        return OSError(e.errno, e.strerror, os.path.abspath(path))  # OSError(ENOENT, ...) is a FileNotFoundError
    except ValueError:  # an embedded NUL: no such file either
        pass
    return OSError(errno.ENOENT, os.strerror(errno.ENOENT), os.path.abspath(path))


def _open(path: str) -> tuple[BinaryIO, os.stat_result]:
    """:func:`open_regular`, its failures told as archive errors."""
    try:
        return open_regular(path)
    except (FileNotFoundError, NotADirectoryError):
        raise ArchiveNotFound(path, "no such file") from None
    except NotRegularFile as e:
        raise ArchiveNotFound(path, "is a directory, not a zip archive" if e.errno == errno.EISDIR else "not a regular file") from None
    except OSError as e:
        if os.path.isdir(path):  # Windows refuses to open directories
            raise ArchiveNotFound(path, "is a directory, not a zip archive") from None
        raise ArchiveError(path, f"cannot open: [Errno {e.errno}] {e.strerror}" if e.strerror else f"cannot open: {e}") from e


def _reader(f: BinaryIO) -> _Fetch:
    def fetch(pos: int, n: int) -> bytes:
        f.seek(pos)
        return f.read(n)
    return fetch


def _decode(path: str, m: Member, raw: bytes) -> bytes:
    """Decompress with output capped one byte past the declared size, then verify."""
    try:
        out = _DECODERS[m.method](path, m.name, raw, m.size + 1)
    except (zlib.error, OSError, EOFError, ValueError) as e:
        raise CorruptArchive(path, f"{_METHODS[m.method]} data is damaged: {e}", m.name) from e
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


def _bunzip2(path: str, name: str, raw: bytes, limit: int) -> bytes:
    try:
        bz2 = stdlib("bz2")
    except ImportError:
        raise UnsupportedMember(path, "bzip2 member, but this Python lacks bz2", name) from None
    out: bytes = bz2.BZ2Decompressor().decompress(raw, limit)
    return out


def _unzstd(path: str, name: str, raw: bytes, limit: int) -> bytes:
    """Zstandard (method 93, PEP 784): one frame as zipfile writes it since 3.14, or several concatenated.

    A decompressor stops at the end of its frame, so each further frame gets
    a new one, until the data or the output limit runs out.
    """
    zstd = zstd_module(path, name)
    parts: list[bytes] = []
    total = 0
    try:
        while total < limit:
            decompressor = zstd.ZstdDecompressor()
            part = decompressor.decompress(raw, limit - total)
            parts.append(part)
            total += len(part)
            raw = decompressor.unused_data
            if not decompressor.eof or not raw:
                break
    except zstd.ZstdError as e:
        raise CorruptArchive(path, f"zstandard data is damaged: {e}", name) from e
    return b"".join(parts)


def zstd_module(path: str = "", name: Optional[str] = None) -> ModuleType:
    """3.14's ``compression.zstd``, else the ``backports.zstd`` package, imported when first needed.

    Neither is imported at start-up: most archives hold no Zstandard member.
    Without both, the member is refused by name, saying what to install.
    """
    for module, load in (("compression.zstd", stdlib), ("backports.zstd", own_import)):  # never the archive's own
        try:
            return load(module)
        except ImportError:
            pass
    raise UnsupportedMember(path, "compression method 93 (zstandard) needs Python 3.14+ or the backports.zstd package "
                                  "(pip install 'zrun[zstd]')", name)


def _unlzma(path: str, name: str, raw: bytes, limit: int) -> bytes:
    """Zip's LZMA: version (2 bytes), props size (2, LE), props, raw LZMA1 data."""
    try:
        lzma = stdlib("lzma")
    except ImportError:
        raise UnsupportedMember(path, "lzma member, but this Python lacks lzma", name) from None
    if len(raw) < 4:
        raise CorruptArchive(path, "lzma header is truncated", name)
    psize = raw[2] | raw[3] << 8
    decode_props = lzma._decode_filter_properties  # zipfile's own; not in typeshed
    try:
        props = decode_props(lzma.FILTER_LZMA1, raw[4:4 + psize])
        out: bytes = lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=[props]).decompress(raw[4 + psize:], limit)
        return out
    except lzma.LZMAError as e:
        raise CorruptArchive(path, f"lzma data is damaged: {e}", name) from e


#: Compression method -> decoder(path, member, raw, output limit); any other method is refused by name.
_DECODERS = {0: _stored, 8: _inflate, 12: _bunzip2, 14: _unlzma, 93: _unzstd}
