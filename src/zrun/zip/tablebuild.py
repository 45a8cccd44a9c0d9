"""The stored index table's format, and the writing of one from a parse.

A parsed central directory laid out for lookup in place: sorted, fixed-size, bisected
(read by :class:`zrun.zip.table.Table`).

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

from ..stdlib import stdlib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from typing import Any, List, Optional

    from .index import Index

MAGIC = b"ZRX1"
HEAD = struct.Struct("<4sI6Q")  # magic, chunk, members, dirs, names, refused bytes, data length, reserved
HEAD_SIZE = 64  # HEAD (56), its CRC-32 (4), padding
#: The member columns after the name offsets: Member field, array type code (size).
COLUMNS = ((1, "Q"), (3, "Q"), (4, "Q"), (6, "d"), (5, "I"), (2, "H"), (7, "H"))  # offset, csize, size, mtime, crc, method, flags
PER_MEMBER = 4 + 8 + 8 + 8 + 8 + 4 + 2 + 2  # its name offset and its columns
CRC = struct.Struct("<I")
CHUNK = 1 << 14



def build(index: Index) -> Optional[bytearray]:
    """The table for a parse's ``index``, or ``None`` if it cannot be laid out (names over 4 GiB).

    Column by column through ``array`` (C loops: 1,000,000 entries in ~0.2 s,
    where a ``struct`` pack per record took 1.1 s). A first run of a large
    archive does not come here: it streams its directory into the table
    (:mod:`zrun.zip.streamed`); a parse made for a damaged table does.
    """
    array = stdlib("array").array  # stdlib(): never an archive's array.py (this runs inside imports)
    itemgetter = stdlib("operator").itemgetter

    members, dirs, refused = index
    files = sorted(members)  # code point order is UTF-8 byte order
    joined = "".join(files).encode("utf-8", "surrogatepass")
    rows = list(map(members.__getitem__, files))
    columns = [array(code, map(itemgetter(field), rows)) for field, code in COLUMNS]
    return lay_out([joined], _sizes(files, joined), sorted(dirs), columns, refused)


def lay_out(names: List[bytes], sizes: Iterable[int], folders: List[str], columns: List[Any], refused: List[str]) -> Optional[bytearray]:
    """The table of members whose sorted UTF-8 names, concatenated, are the parts ``names`` (``sizes`` long each)
    and whose columns (in :data:`COLUMNS`' order, native byte order) are ``columns``; ``None`` if the names
    come to 4 GiB or more.

    The lists ``names`` and ``columns`` are emptied: each part is let go as soon as it is copied, so that a
    first run never holds the table twice (1,000,000 entries: 65 MB).
    """
    array = stdlib("array").array
    accumulate = stdlib("itertools").accumulate
    folded = "".join(folders).encode("utf-8", "surrogatepass")
    length_of_names = sum(map(len, names))
    offsets = array("I", [0])
    if offsets.itemsize != 4 or length_of_names + len(folded) >= 1 << 32:
        return None
    offsets.extend(accumulate(sizes))
    members = len(offsets) - 1
    offsets.extend(accumulate(_sizes(folders, folded), initial=length_of_names))  # (n + 1) then (dirs + 1) offsets
    rejected = marshal.dumps(list(refused))
    parts: List[Any] = [rejected, folded, *reversed(names), *reversed(columns), offsets]  # popped from the end
    names.clear()
    columns.clear()
    del offsets
    length = sum(len(part) * getattr(part, "itemsize", 1) for part in parts)
    nchunks = -(-length // CHUNK)
    start = HEAD_SIZE + 4 * nchunks
    out = bytearray(start)
    while parts:
        part = parts.pop()
        if sys.byteorder != "little" and isinstance(part, array):
            part.byteswap()
        out += memoryview(part).cast("B")  # arrays and bytes alike
        del part
    view = memoryview(out)
    for c in range(nchunks):
        lo = start + c * CHUNK
        CRC.pack_into(out, HEAD_SIZE + 4 * c, zlib.crc32(view[lo:lo + CHUNK]))
    HEAD.pack_into(out, 0, MAGIC, CHUNK, members, len(folders), length_of_names + len(folded), len(rejected), length, 0)
    CRC.pack_into(out, 56, zlib.crc32(view[HEAD_SIZE:start], zlib.crc32(view[:56])))
    view.release()
    return out


def _sizes(names: List[str], joined: bytes) -> Iterator[int]:
    """The UTF-8 length of each name: its length in characters if they are all ASCII."""
    if len(joined) == sum(map(len, names)):
        return map(len, names)
    return (len(key(name)) for name in names)


def key(name: str) -> bytes:
    return name.encode("utf-8", "surrogatepass")  # UTF-8 byte order is code point order
