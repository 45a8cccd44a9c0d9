"""A large central directory streamed into the stored index table, with no Member or dict per entry.

The dict parse (:mod:`zrun.zip.index`) keeps a :class:`~zrun.zip.index.Member`
tuple, its fields and a ``str`` per entry, and the table was then built from
that dict: for 1,000,000 entries ~1.6 s and ~430 MB of peak RSS before the
first import. Here the directory is read :data:`CHUNK` bytes at a time and
each accepted file leaves one ``bytes`` object: its UTF-8 name, a NUL (which
no accepted name holds) and the :data:`ROW` bytes of its fixed header that the
table needs. Sorting those keys sorts the files by name (the NUL sorts a name
before its extensions) with their fields; the table's columns are then cut
out of them a batch at a time with strided slices (C loops), and each batch
of keys is let go as soon as it is copied. The table is laid out in
:mod:`zrun.zip.tablebuild`'s format, so later runs read it as any other.

Every entry is checked by the dict parse's rules, in its order, with its
errors (:func:`_careful`). A read whose names are all plain ASCII, with no
``..``, no leading slash, no NUL and no ZIP64 field anywhere (checked once
per read, in C) is taken by a quicker loop (:func:`_quick`) that would have
accepted exactly the same entries; anything else in a read sends the whole
read through :func:`_careful`.
"""

from __future__ import annotations

import struct
import sys

from ..errors import CorruptArchive
from ..stdlib import stdlib
from .index import dos_time, folders, zip64_extra
from .tablebuild import lay_out

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Tuple

    from .index import Directory, Fetch

#: Bytes of directory read at a time (tests lower it, so that entries straddle reads).
CHUNK = 1 << 20
#: Bytes 8 to 46 of a central directory entry, the end of every key: flags, method, DOS time, CRC-32, sizes, ..., header offset.
ROW = 38
#: The table's member columns as they lie in a row (offset, width) and their array codes, in ``tablebuild.COLUMNS``' order.
_FIELDS = ((34, 4, "Q"), (12, 4, "Q"), (16, 4, "Q"), (4, 4, "I"), (8, 4, "I"), (2, 2, "H"), (0, 2, "H"))
_BATCH = 1 << 16  # keys turned into columns at a time
_SIG = 0x02014B50
_U32 = 0xFFFFFFFF
_ENTRY = struct.Struct("<L4xH10x2L3H8xL")  # signature, flags, sizes, name, extra and comment lengths, header offset
_LENGTHS = struct.Struct("<L24x3H")  # signature; name, extra and comment lengths


class Streamed:
    """What :func:`stream` keeps of a directory."""

    __slots__ = ("base", "dirs", "keys", "numbered", "refused", "wide")

    def __init__(self, base: int, numbered: bool) -> None:
        self.keys: List[bytes] = []  # per file: UTF-8 name, NUL, [its entry number (4 bytes, big-endian) if numbered], ROW bytes
        self.dirs: List[bytes] = []  # UTF-8 names of the directory entries
        self.refused: List[str] = []
        self.wide: Dict[bytes, Tuple[int, int, int]] = {}  # name -> (size, csize, offset) of its ZIP64 extra, if the entry kept has one
        self.base, self.numbered = base, numbered


class _Duplicates(Exception):
    """Names repeat: which entry comes last (the one kept) needs the entry numbers in the keys."""


def table(fetch: Fetch, directory: Directory, path: str) -> Optional[Tuple[bytearray, int]]:
    """The stored table of a directory and its member count; ``None`` if it cannot be laid out (names over 4 GiB)."""
    try:
        return _build(stream(fetch, directory, path))
    except _Duplicates:  # rare: read it again, numbering the entries
        return _build(stream(fetch, directory, path, numbered=True))


def stream(fetch: Fetch, directory: Directory, path: str, numbered: bool = False) -> Streamed:
    """Read and check the directory a read at a time; an entry is parsed once it lies whole in a read."""
    start, size, base, count, zip64 = directory
    out = Streamed(base, numbered)
    end = start + size
    buf, at, p, n, final = b"", start, 0, 0, False
    while not final:
        piece = fetch(at, min(CHUNK, end - at))
        at += len(piece)
        final = at >= end or not piece
        buf = buf[p:] + piece
        marks = len(out.keys), len(out.dirs)
        quick = None if numbered or out.wide else _quick(buf, final, out)
        if quick is None or _unusual(buf, out, *marks):
            del out.keys[marks[0] :], out.dirs[marks[1] :]
            p, n = _careful(buf, final, out, n, path)
        else:
            p, n = quick[0], n + quick[1]
    if p != len(buf):
        raise CorruptArchive(path, "last central directory entry runs past its end")
    if n != count and (zip64 or n & 0xFFFF != count):  # tolerate 16-bit wrapped counts
        raise CorruptArchive(path, f"central directory holds {n} entries, its end record says {count}")
    return out


def _quick(buf: bytes, final: bool, out: Streamed) -> Optional[Tuple[int, int]]:
    """Where the entries whole in ``buf`` end and how many there are; ``None`` if one is cut short or damaged.

    A key here is the name and bytes 7 to 46 of the entry: byte 7 (the high
    byte of "version needed") is the NUL, as :func:`_unusual` checks.
    """
    unpack, add, dirs = _LENGTHS.unpack_from, out.keys.append, out.dirs.append
    have = len(buf)
    stop = have if final else have - 45
    p = k = 0
    try:
        while p < stop:
            sig, nlen, xlen, clen = unpack(buf, p)
            q = p + 46 + nlen
            following = q + xlen + clen
            if following > have:
                if final:
                    return None
                break
            if sig != _SIG:
                return None
            name = buf[p + 46 : q]
            if name[-1] == 47:  # "/"
                dirs(name)
            else:
                add(name + buf[p + 7 : p + 46])
            p = following
            k += 1
    except (struct.error, IndexError):  # a header cut short, an empty name
        return None
    return p, k


def _unusual(buf: bytes, out: Streamed, keys_at: int, dirs_at: int) -> bool:
    """Would the dict parse treat any entry :func:`_quick` took in ``buf`` otherwise than as a plain file or folder?"""
    operator = stdlib("operator")
    keys = out.keys[keys_at:]
    if not keys and len(out.dirs) == dirs_at:
        return False
    if b"\xff\xff\xff\xff" in buf:  # maybe a ZIP64 field
        return True
    text = b"\n".join([*map(operator.itemgetter(slice(None, -ROW - 1)), keys), *out.dirs[dirs_at:]])
    return (
        not text.isascii()
        or b"\x00" in text
        or b".." in text
        or text[:1] in b"/\\"
        or b"\n/" in text
        or b"\n\\" in text
        or any(map(operator.itemgetter(-ROW - 1), keys))
    )


def _careful(buf: bytes, final: bool, out: Streamed, n: int, path: str) -> Tuple[int, int]:
    """The dict parse's loop (:func:`zrun.zip.index._parse`) over the entries whole in ``buf``; the last read is
    parsed to its end as the dict parse parses its buffer, so truncation and overruns raise its errors."""
    unpack = _ENTRY.unpack_from
    keys, dirs, refused, wide, numbered = out.keys, out.dirs, out.refused, out.wide, out.numbered
    have = len(buf)
    stop = have if final else have - 45
    p = 0
    try:
        while p < stop:
            sig, flags, csize, usize, nlen, xlen, clen, offset = unpack(buf, p)
            if sig != _SIG:
                raise CorruptArchive(path, f"bad central directory signature (entry {n})")
            q = p + 46 + nlen
            following = q + xlen + clen
            if following > have and not final:
                break  # not whole in this read: the next one starts with it
            name, row = buf[p + 46 : q], buf[p + 8 : p + 46]
            p = following
            n += 1
            if not name.isascii():  # the key is the UTF-8 of the name the dict parse decodes
                try:
                    name = name.decode("utf-8" if flags & 0x800 else "cp437").encode("utf-8")
                except UnicodeDecodeError:
                    refused.append(name.decode("utf-8", "replace"))
                    continue
            fixed = None
            if csize == _U32 or usize == _U32 or offset == _U32:
                fixed = zip64_extra(buf[q : q + xlen], usize, csize, offset, path, name.decode("utf-8"))
            # The dict parse's rules on its str, here on UTF-8 bytes, where "/", "\\", "." and NUL are themselves.
            if name[:1] in b"/\\" or b"\x00" in name or (b".." in name and b".." in name.replace(b"\\", b"/").split(b"/")):
                refused.append(name.decode("utf-8"))
            elif name[-1] == 47:
                dirs.append(name)
            else:
                if fixed is not None:
                    wide[name] = fixed
                elif wide:
                    wide.pop(name, None)  # a later entry of the same name, without ZIP64 fields
                keys.append(b"".join((name, b"\x00", (n - 1).to_bytes(4, "big") if numbered else b"", row)))
    except struct.error:
        raise CorruptArchive(path, f"central directory is truncated (entry {n})") from None
    return p, n


def _build(parsed: Streamed) -> Optional[Tuple[bytearray, int]]:
    """Sort the keys, cut the columns out of them a batch at a time (letting each go), lay the table out."""
    array, itertools, operator = stdlib("array").array, stdlib("itertools"), stdlib("operator")
    keys, tail = parsed.keys, ROW + (5 if parsed.numbered else 1)
    name_of, row_of = operator.itemgetter(slice(None, -tail)), operator.itemgetter(slice(-ROW, None))
    keys.sort()
    if parsed.numbered:  # of equal names, sorted by entry number, the last is the one the dict parse keeps
        keys[:] = [k for k, following in zip(keys, itertools.islice(keys, 1, None)) if name_of(k) != name_of(following)] + keys[-1:]
    bisect = stdlib("bisect").bisect_left if parsed.wide else None
    wide = {bisect(keys, name + b"\x00"): fixed for name, fixed in parsed.wide.items()} if bisect else {}
    names: List[bytes] = []
    sizes, parents, last = array("I"), set(), b"\x00"  # type: Any, set[bytes], bytes
    columns = [array(code) for _, _, code in _FIELDS]
    while keys:
        batch = keys[:_BATCH]
        del keys[:_BATCH]
        cut = list(map(name_of, batch))
        if cut[0] == last or any(map(operator.eq, cut, itertools.islice(cut, 1, None))):
            raise _Duplicates  # (never when numbered: removed above)
        last = cut[-1]
        names.append(b"".join(cut))
        sizes.extend(map(len, cut))
        parents.update(map(operator.itemgetter(0), map(bytes.rpartition, cut, itertools.repeat(b"/"))))
        _extend(columns, b"".join(map(row_of, batch)))
        del batch, cut
    if sys.byteorder != "little":
        for column in columns:
            column.byteswap()
    for i, (size, compressed, offset) in wide.items():
        columns[2][i], columns[1][i], columns[0][i] = size, compressed, offset
    if parsed.base:
        columns[0] = array("Q", map(parsed.base.__add__, columns[0]))
    times = {t: dos_time(t) for t in set(columns[3])}
    if len(times) == 1:  # a reproducible build: one date for all
        columns[3] = array("d", times.values()) * len(columns[3])
    else:
        columns[3] = array("d", map(times.__getitem__, columns[3]))
    dirs = folders({f"{d.decode('utf-8')}/" if d else "" for d in parents}.union(d.decode("utf-8") for d in parsed.dirs))
    built = lay_out(names, sizes, sorted(dirs), columns, parsed.refused)
    return None if built is None else (built, len(sizes))


def _extend(columns: List[Any], rows: bytes) -> None:
    """Append each field of ``rows`` (little-endian, :data:`ROW` bytes each) to its column: one strided copy per byte."""
    count = len(rows) // ROW
    for column, (at, width, _) in zip(columns, _FIELDS):
        size = column.itemsize
        raw = bytearray(size * count)
        for b in range(width):
            raw[b::size] = rows[at + b :: ROW]
        column.frombytes(raw)
