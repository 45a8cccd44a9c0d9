"""The zip central directory, parsed into members once per archive.

Everything here runs before the first module of an archive can be imported,
for every entry: the parse loop is written for speed (one ``struct`` unpack
per entry, ASCII names sliced from one decoded string, garbage collection
paused), and unsafe names are refused here, so no later step sees them. A large
directory is offered to the caller's ``large`` first: the first run of a large
archive streams it into the stored table instead (:mod:`zrun.zip.streamed`,
which applies these same rules).
"""

from __future__ import annotations

import struct
import time

from ..errors import ArchiveError, CorruptArchive, NotAnArchive
from ..stdlib import stdlib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import AbstractSet, List, Mapping, Optional, Tuple

    Fetch = Callable[[int, int], bytes]  # (position, length) -> bytes, short at the end
    #: Where the central directory lies: its start and size in the file, the prefix length, the end record's entry count, ZIP64.
    Directory = Tuple[int, int, int, int, bool]
_EOCD = struct.Struct("<4s4H2LH")  # end of central directory record, 22 bytes
_Z64_LOCATOR = struct.Struct("<4sLQL")  # 20 bytes, right before the EOCD
_Z64_EOCD = struct.Struct("<4sQ2H2L4Q")  # 56 bytes, usually right before the locator
_CENTRAL = struct.Struct("<L4x2H4L3H8xL")  # 46 bytes; DOS time and date read as one int
_U64 = struct.Struct("<Q")
_U32 = 0xFFFFFFFF
#: Smaller central directories (at most 356 entries) are parsed with garbage collection left on:
#: the few hundred objects they make trigger no collection worth pausing for, and ``gc`` is not imported.
_GC_PAUSE_BYTES = 1 << 14


class Member(tuple):  # type: ignore[type-arg]
    """One file's central-directory entry; offsets already include any prefix.

    A bare tuple subclass rather than a NamedTuple: ``typing`` and
    ``collections`` would add milliseconds to every start-up.
    """

    __slots__ = ()

    name: str = property(lambda self: self[0])  # type: ignore[assignment]
    header_offset: int = property(lambda self: self[1])  # type: ignore[assignment]
    method: int = property(lambda self: self[2])  # type: ignore[assignment]
    compressed_size: int = property(lambda self: self[3])  # type: ignore[assignment]
    size: int = property(lambda self: self[4])  # type: ignore[assignment]
    crc: int = property(lambda self: self[5])  # type: ignore[assignment]
    mtime: float = property(lambda self: self[6])  # type: ignore[assignment]
    flags: int = property(lambda self: self[7])  # type: ignore[assignment]


if TYPE_CHECKING:
    Index = Tuple[Mapping[str, Member], AbstractSet[str], List[str]]  # members, dirs, refused: a parse's or a table's
    Parsed = Tuple[dict[str, Member], frozenset[str], List[str]]  # what a parse makes
    Large = Callable[[Fetch, Directory], Optional[Index]]  # an index for a large directory, or None to parse it here


def _find_eocd(tail: bytes) -> int:
    """The last EOCD whose comment ends exactly at the end, else the last whole one."""
    found = -1
    i = tail.rfind(b"PK\x05\x06")
    while i >= 0:
        if i + 22 <= len(tail):
            if i + 22 + (tail[i + 20] | tail[i + 21] << 8) == len(tail):
                return i
            found = i if found < 0 else found
        i = tail.rfind(b"PK\x05\x06", 0, i)
    return found


def _no_end_record(fetch: Fetch, path: str) -> None:
    """A file that starts as a zip (after a ``#!`` line, maybe) but has no end record was cut short."""
    head = fetch(0, 4096)
    if head.startswith(b"PK\x03\x04") or (head.startswith(b"#!") and b"\nPK\x03\x04" in head):
        raise CorruptArchive(path, "truncated or corrupt zip archive: it starts as one but has no end of central directory record")


def read_index(fetch: Fetch, size: int, path: str, large: Optional[Large] = None) -> Index:
    """Find the end records (ZIP64 too) and the prefix length; parse the directory.

    ``large``, if given, is offered the located directory first
    (:func:`zrun.zip.streamed.table_index` streams a large one into the
    stored table); when it declines (``None``), the directory is parsed into
    a ``dict`` here. A directory too big for the memory left is an
    :class:`ArchiveError` naming the archive, not a bare ``MemoryError``.
    """
    try:
        return _read_index(fetch, size, path, large)
    except MemoryError:
        raise ArchiveError(path, f"not enough memory to index its central directory ({size} bytes of archive)") from None


def _read_index(fetch: Fetch, size: int, path: str, large: Optional[Large]) -> Index:
    if size < _EOCD.size:
        _no_end_record(fetch, path)
        raise NotAnArchive(path, "not a zip archive" + ("" if size else " (empty file)"))
    tail_start = max(0, size - _EOCD.size - 0xFFFF)  # room for the longest comment
    tail = fetch(tail_start, size - tail_start)

    def at(pos: int, n: int) -> bytes:
        return tail[pos - tail_start:pos - tail_start + n] if pos >= tail_start else fetch(pos, n)

    pos = _find_eocd(tail)
    if pos < 0:
        _no_end_record(fetch, path)
        raise NotAnArchive(path, "not a zip archive (no end of central directory)")
    _, disk, cd_disk, _, count, cd_size, cd_off, _ = _EOCD.unpack_from(tail, pos)
    end = tail_start + pos  # where the central directory stops
    loc = at(end - 20, 20) if end >= 20 else b""
    zip64 = loc[:4] == b"PK\x06\x07"
    if zip64:
        rec_pos = end - 20 - _Z64_EOCD.size  # right before the locator, whatever the prefix
        rec = at(rec_pos, _Z64_EOCD.size) if rec_pos >= 0 else b""
        if rec[:4] != b"PK\x06\x06":  # else where the locator says
            rec_pos = _Z64_LOCATOR.unpack(loc)[2]  # 64 bits from the file: checked before seeking
            rec = fetch(rec_pos, _Z64_EOCD.size) if rec_pos <= end - 20 - _Z64_EOCD.size else b""
        if len(rec) != _Z64_EOCD.size or rec[:4] != b"PK\x06\x06":
            raise CorruptArchive(path, "ZIP64 end of central directory is missing")
        _, _, _, _, disk, cd_disk, _, count, cd_size, cd_off = _Z64_EOCD.unpack(rec)
        end = rec_pos
    if disk or cd_disk:
        raise ArchiveError(path, "multi-disk (spanned) archives are not supported")
    base = end - cd_size - cd_off  # bytes of prefix (shebang, stub) before the zip
    if base < 0:
        raise CorruptArchive(path, "central directory is truncated (runs past its end)")
    if large is not None:
        streamed = large(fetch, (end - cd_size, cd_size, base, count, zip64))
        if streamed is not None:
            return streamed
    cd = at(end - cd_size, cd_size)
    if cd_size < _GC_PAUSE_BYTES:  # the size, not the count, which a 16-bit field may have wrapped
        return _parse(cd, base, count, zip64, path)
    gc = stdlib("gc")
    enabled = gc.isenabled()
    gc.disable()  # the loop keeps every object it makes: collections only cost time
    try:
        return _parse(cd, base, count, zip64, path)
    finally:
        if enabled:
            gc.enable()


def _parse(cd: bytes, base: int, count: int, zip64: bool, path: str) -> Parsed:
    """The hot loop: one unpack per entry, locals only, no calls that can be avoided."""
    unpack, new = _CENTRAL.unpack_from, tuple.__new__
    text = cd.decode("latin-1")  # ASCII names are then one str slice: no bytes copy, no decode call
    members: dict[str, Member] = {}
    refused: list[str] = []
    dir_entries: list[str] = []
    times: dict[int, float] = {}
    end = len(cd)
    p = n = 0
    try:
        while p < end:
            sig, flags, method, dostime, crc, csize, size, nlen, xlen, clen, offset = unpack(cd, p)
            if sig != 0x02014B50:
                raise CorruptArchive(path, f"bad central directory signature (entry {n})")
            q = p + 46 + nlen
            name = text[p + 46:q]
            p = q + xlen + clen
            n += 1
            if not name.isascii():  # O(1) on str; then the real encoding
                try:
                    name = cd[q - nlen:q].decode("utf-8" if flags & 0x800 else "cp437")
                except UnicodeDecodeError:
                    refused.append(cd[q - nlen:q].decode("utf-8", "replace"))
                    continue
            if csize == _U32 or size == _U32 or offset == _U32:
                size, csize, offset = zip64_extra(cd[q:q + xlen], size, csize, offset, path, name)
            if name[:1] in "/\\" or "\x00" in name or (  # "" too
                    ".." in name and ".." in name.replace("\\", "/").split("/")):
                refused.append(name)
            elif name[-1] == "/":
                dir_entries.append(name)
            else:
                t = times.get(dostime)
                if t is None:
                    t = times[dostime] = dos_time(dostime)
                members[name] = new(Member, (name, offset + base, method, csize, size, crc, t, flags))
    except struct.error:
        raise CorruptArchive(path, f"central directory is truncated (entry {n})") from None
    if p != end:
        raise CorruptArchive(path, "last central directory entry runs past its end")
    if n != count and (zip64 or n & 0xFFFF != count):  # tolerate 16-bit wrapped counts
        raise CorruptArchive(path, f"central directory holds {n} entries, its end record says {count}")
    return members, folders({m[:m.rfind("/") + 1] for m in members}.union(dir_entries)), refused


def folders(parents: AbstractSet[str]) -> frozenset[str]:
    """The directories of an archive: ``parents`` (each ``""`` or ending in ``/``) and their ancestors, without the slash."""
    dirs: set[str] = set()
    for d in parents:
        i = len(d) - 1  # d is "" or ends in "/": add it and every ancestor, once
        while i > 0:
            d = d[:i]
            if d in dirs:
                break
            dirs.add(d)
            i = d.rfind("/")
    return frozenset(dirs)


def zip64_extra(extra: bytes, size: int, csize: int, offset: int, path: str, name: str) -> tuple[int, int, int]:
    """Fields that are 0xFFFFFFFF come from the 0x0001 extra, in the spec's order."""
    i = 0
    while i + 4 <= len(extra):
        tag, length = struct.unpack_from("<2H", extra, i)
        if tag == 1:
            body, j = extra[i + 4:i + 4 + length], 0
            try:
                if size == _U32:
                    size, j = _U64.unpack_from(body, j)[0], j + 8
                if csize == _U32:
                    csize, j = _U64.unpack_from(body, j)[0], j + 8
                if offset == _U32:
                    offset = _U64.unpack_from(body, j)[0]
            except struct.error:
                raise CorruptArchive(path, "ZIP64 extra field is too short", name) from None
            return size, csize, offset
        i += 4 + length
    raise CorruptArchive(path, "ZIP64 sizes without a ZIP64 extra field", name)


def dos_time(dt: int) -> float:
    """DOS date (high half) and time (low half) to POSIX seconds, local like zipimport."""
    d, t = dt >> 16, dt & 0xFFFF
    try:
        return time.mktime(((d >> 9) + 1980, (d >> 5) & 15, d & 31, t >> 11, (t >> 5) & 63, (t & 31) * 2, 0, 0, -1))
    except (OverflowError, ValueError):
        return 0.0
