"""Compression methods beyond stored and deflate: bzip2, lzma and Zstandard.

Almost every archive holds only stored and deflated members, which
:mod:`zrun.zip.archive` decodes with ``zlib`` alone. This module, and the
``bz2``/``lzma``/``compression.zstd`` it imports, load only when a member
with another method is read (or ``zrun info`` names the methods).
"""

from __future__ import annotations

from ..errors import CorruptArchive, UnsupportedMember
from ..stdlib import own_import, stdlib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType
    from typing import Callable, Dict, List, Optional

    Decoder = Callable[[str, str, bytes, int], bytes]

#: Every method number of the zip specification that has a name, for messages that refuse one.
NAMES = {0: "stored", 1: "shrink", 6: "implode", 8: "deflate", 9: "deflate64", 12: "bzip2",
         14: "lzma", 93: "zstandard", 95: "xz", 98: "ppmd", 99: "WinZip AES"}


def name(method: int) -> str:
    """``8 (deflate)``: a method as an error message names it."""
    return f"{method} ({NAMES.get(method, 'unknown')})"


def _bunzip2(path: str, member: str, raw: bytes, limit: int) -> bytes:
    try:
        bz2 = stdlib("bz2")
    except ImportError:
        raise UnsupportedMember(path, "bzip2 member, but this Python lacks bz2", member) from None
    out: bytes = bz2.BZ2Decompressor().decompress(raw, limit)
    return out


def _unzstd(path: str, member: str, raw: bytes, limit: int) -> bytes:
    """Zstandard (method 93, PEP 784): one frame as zipfile writes it since 3.14, or several concatenated.

    A decompressor stops at the end of its frame, so each further frame gets
    a new one, until the data or the output limit runs out.
    """
    zstd = zstd_module(path, member)
    parts: List[bytes] = []
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
        raise CorruptArchive(path, f"zstandard data is damaged: {e}", member) from e
    return b"".join(parts)


def zstd_module(path: str = "", member: Optional[str] = None) -> ModuleType:
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
                                  "(pip install 'zrun[zstd]')", member)


def _unlzma(path: str, member: str, raw: bytes, limit: int) -> bytes:
    """Zip's LZMA: version (2 bytes), props size (2, LE), props, raw LZMA1 data."""
    try:
        lzma = stdlib("lzma")
    except ImportError:
        raise UnsupportedMember(path, "lzma member, but this Python lacks lzma", member) from None
    if len(raw) < 4:
        raise CorruptArchive(path, "lzma header is truncated", member)
    psize = raw[2] | raw[3] << 8
    decode_props = lzma._decode_filter_properties  # zipfile's own; not in typeshed
    try:
        props = decode_props(lzma.FILTER_LZMA1, raw[4:4 + psize])
        out: bytes = lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=[props]).decompress(raw[4 + psize:], limit)
        return out
    except lzma.LZMAError as e:
        raise CorruptArchive(path, f"lzma data is damaged: {e}", member) from e


#: Compression method -> decoder(path, member, raw, output limit), for the methods :mod:`zrun.zip.archive` leaves here.
DECODERS: Dict[int, Decoder] = {12: _bunzip2, 14: _unlzma, 93: _unzstd}
