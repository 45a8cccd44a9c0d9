"""A streaming writer for archives of many small stored members (the scaling fixtures).

``zipfile.ZipFile.writestr`` costs about 15 µs per member (a ``ZipInfo``, a
lock, a CRC call, a seek back to patch the local header); for the
1,000,000-entry fixture that is most of a minute, on every run of the suite.
This writer knows every member's bytes up front, so each local header is
written once, in order, with its CRC already known, and the central directory
is collected as bytes and appended at the end: a few seconds for a million
members. The result is an ordinary zip (ZIP64 end records past 65,535 entries,
as ``zipfile`` writes them) that ``zipfile``, zipimport (3.13+) and zrun read.
"""

from __future__ import annotations

import struct
import zlib
from typing import BinaryIO, Iterable, Tuple

_LOCAL = struct.Struct("<4s5H3L2H")  # 30 bytes
_CENTRAL = struct.Struct("<4s6H3L5H2L")  # 46 bytes
_EOCD = struct.Struct("<4s4H2LH")  # 22 bytes
_Z64_EOCD = struct.Struct("<4sQ2H2L4Q")  # 56 bytes
_Z64_LOCATOR = struct.Struct("<4sLQL")  # 20 bytes
_DOS_TIME, _DOS_DATE = 0, (1980 - 1980) << 9 | 1 << 5 | 1  # 1980-01-01 00:00, as reproducible builds date them
_UTF8 = 0x800  # general-purpose flag bit 11: the name is UTF-8
_MAX16, _MAX32 = 0xFFFF, 0xFFFFFFFF


def write_stored(output: BinaryIO, members: Iterable[Tuple[str, bytes]]) -> int:
    """Write ``(name, data)`` members, stored (not compressed), in order; return how many.

    Offsets must stay under 4 GiB (no ZIP64 extra fields are written): this
    is for fixtures of small members, not a general writer.
    """
    central = bytearray()
    offset = count = 0
    pack_local, pack_central = _LOCAL.pack, _CENTRAL.pack
    for name, data in members:
        raw = name.encode("utf-8")
        flags = 0 if raw.isascii() else _UTF8
        crc, size = zlib.crc32(data), len(data)
        if offset > _MAX32 or size > _MAX32:
            raise ValueError(f"{name}: write_stored writes archives under 4 GiB only")
        header = pack_local(b"PK\x03\x04", 20, flags, 0, _DOS_TIME, _DOS_DATE, crc, size, size, len(raw), 0)
        output.write(header + raw)
        output.write(data)
        central += pack_central(b"PK\x01\x02", 20, 20, flags, 0, _DOS_TIME, _DOS_DATE, crc, size, size, len(raw), 0, 0, 0, 0,
                                0o644 << 16, offset)
        central += raw
        offset += len(header) + len(raw) + size
        count += 1
    output.write(central)
    end = offset + len(central)
    if count > _MAX16:
        output.write(_Z64_EOCD.pack(b"PK\x06\x06", _Z64_EOCD.size - 12, 45, 45, 0, 0, count, count, len(central), offset))
        output.write(_Z64_LOCATOR.pack(b"PK\x06\x07", 0, end, 1))
    shown = min(count, _MAX16)
    output.write(_EOCD.pack(b"PK\x05\x06", 0, 0, shown, shown, min(len(central), _MAX32), min(offset, _MAX32), 0))
    return count
