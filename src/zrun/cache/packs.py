"""Compiled code of archive members: one pack file per archive, read once per process, written once.

A file per module cost 2,000 creates and renames on a cold run of 2,000 modules (issue 16). A pack
(``pack/ab/<38 hex>``: a header, each module's code, an index; docs/cache.md)
holds the code of every module compiled from one archive, for one interpreter
and optimisation level, keyed by ``digest("pack", optimize, archive identity)``:
the identity (path, device, inode, size, mtime, ctime) changes whenever the
archive is replaced. A run opens the pack once through the checked root
(:mod:`zrun.cache.root`), reads its header and index, then reads a module's
code (``pread``) when it is imported, so only what is imported is read and held.
An entry is used only if the member's CRC and size in the archive's index are
the ones it was compiled from and its bytes match their CRC-32; anything else
(truncated, damaged, another interpreter's, too large, another archive's) is a
miss, never an error: the code is compiled and the pack rewritten, by
:mod:`zrun.cache.packwrite`, as ONE new file at exit.
"""

from __future__ import annotations

import marshal
import os
import sys
from importlib._bootstrap_external import MAGIC_NUMBER
from types import CodeType

from ..stdlib import stdlib
from . import Reader, _on_reset, checked_root, digest, directory, distrust
from . import root as cacheroot
from .root import Untrusted

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, Optional, Tuple, Union

    Key = Union["Slot", str]

MAGIC = b"ZRP1" + MAGIC_NUMBER
HEADER = 32
READERS = 8  # packs known at once beside those being written; the oldest is forgotten first (hosts run many archives)
MAX_BYTES = 1 << 30  # a pack larger than this is neither read nor written: the code is compiled instead
known: Dict[str, Pack] = {}  # pack key -> the pack as this process knows it
_keys: Dict[Tuple[int, str], str] = {}  # (optimize, archive identity) -> pack key: one hash per archive, not per module
lock = stdlib("_thread").allocate_lock()  # for known, and every pack's spool


class Slot(tuple):  # type: ignore[type-arg]
    """Where the code of one archive member lives: (pack key, archive identity, code filename, member CRC, size)."""

    __slots__ = ()

    def __new__(cls, pack: str, identity: str, filename: str, crc: int, size: int) -> Slot:
        return tuple.__new__(cls, (pack, identity, filename, crc, size))


def pack_key(identity: str) -> str:
    """The key of the pack for the archive ``identity`` at this optimisation level."""
    level = sys.flags.optimize
    key = _keys.get((level, identity))
    if key is None:
        if len(_keys) >= READERS:
            _keys.clear()
        key = _keys[level, identity] = digest("pack", level, identity)
    return key


def keyed(source: Any, entry: str, filename: str) -> Tuple[Optional[Key], Optional[bytes]]:
    """The cache key for ``entry``, and its bytes if the key needed them; ``(None, None)`` when uncached.

    A member of an archive *file* is found in the archive's pack by what the index says (CRC, size): a
    warm run reads nothing from the archive. Memory sources and zip bytes (whose length and CRC anyone
    can forge) are keyed by a hash of their bytes, an entry file each (:mod:`zrun.cache.store`).
    """
    if directory() is None:
        return None, None
    archive = getattr(source, "archive", None) if source.has_location else None
    if archive is not None:
        name = filename[len(archive.path) + 1 :]
        member = archive.members.get(name if os.sep == "/" else name.replace(os.sep, "/"))
        if member is not None:
            identity = source.identity()
            return tuple.__new__(Slot, (pack_key(identity), identity, filename, member[5], member[4])), None
    from . import store

    data = source.read(entry)
    return store.code_key("content", filename, digest(data), len(data)), data


def load_code(key: Key) -> Optional[CodeType]:
    """The cached code for ``key``; ``None`` if absent, stale, damaged or unreadable."""
    if isinstance(key, Slot):
        return pack_for(key).code(key)
    from . import store

    return store.load_code(key)


def key_for(source: Any, entry: str, filename: str) -> Optional[Key]:
    """The cache key for ``entry`` of a source, or ``None`` when uncached (see :func:`keyed`)."""
    return keyed(source, entry, filename)[0]


def pack_for(slot: Slot) -> Pack:
    """The pack ``slot`` belongs to, as this process knows it."""
    pack = known.get(slot[0])
    if pack is None:
        with lock:
            idle = [key for key, other in known.items() if other.spool is None]
            for key in idle[: max(0, len(idle) - READERS + 1)]:  # a long-running host: its descriptor closes with it
                del known[key]
            pack = known.setdefault(slot[0], Pack(slot[0], slot[1]))
    return pack


def _forget() -> None:
    with lock:
        known.clear()
        _keys.clear()


_on_reset.append(_forget)


def parse(read: Reader, identity: str) -> Optional[Dict[str, Any]]:
    """The index of the pack ``read`` reads; ``None`` unless the pack is whole and ``identity``'s."""
    crc32 = stdlib("zlib").crc32
    size = read.size
    if not HEADER <= size <= MAX_BYTES:
        return None
    head = read(0, HEADER)
    if head[:8] != MAGIC or crc32(head[:28]) != int.from_bytes(head[28:32], "little"):
        return None
    count, length, end = (int.from_bytes(head[a:b], "little") for a, b in ((8, 12), (12, 16), (16, 24)))
    if HEADER + end + length != size:
        return None
    raw = read(HEADER + end, length)
    if len(raw) != length or crc32(raw) != int.from_bytes(head[24:28], "little"):
        return None
    try:
        found, entries = marshal.loads(raw)
    except (EOFError, ValueError, TypeError):
        return None
    if found != identity or not isinstance(entries, dict) or len(entries) != count:
        return None
    return entries


def payload(read: Reader, entry: Any, crc: Optional[int] = None, size: Optional[int] = None) -> Optional[bytes]:
    """The bytes of index ``entry`` if they are whole and (given ``crc`` and ``size``) compiled from that member."""
    if type(entry) is not tuple or len(entry) != 5:
        return None
    kept_crc, kept_size, offset, length, check = entry
    if not type(kept_crc) is type(kept_size) is type(offset) is type(length) is type(check) is int:  # one test per module imported
        return None
    if crc is not None and (kept_crc != crc or kept_size != size):
        return None
    if offset < 0 or length < 0 or HEADER + offset + length > read.size:
        return None
    data = read(HEADER + offset, length)
    return data if len(data) == length and stdlib("zlib").crc32(data) == check else None


class Pack:
    """One archive's pack as this process sees it: the index read at first use, and the code spooled since."""

    def __init__(self, key: str, identity: str) -> None:
        self.key, self.identity = key, identity
        self.spool: Any = None  # the zrun.cache.packwrite.Spool it is being written to, from the first code kept
        self.failed = False  # could not be written: keep nothing more
        self.read: Optional[Reader] = None
        self.index: Optional[Dict[str, Any]] = None

    def code(self, slot: Slot) -> Optional[CodeType]:
        """The code of ``slot``'s member, if this pack holds it for the member as it is now."""
        filename, crc, size = slot[2:]
        spool = self.spool
        kept = None if spool is None else spool.table.get(filename)
        try:
            if spool is not None and kept is not None and kept[:2] == (crc, size):
                with lock:  # not while another thread appends
                    data = spool.read(kept)
            else:
                if self.index is None:
                    self._open()
                read, entry = self.read, (self.index or {}).get(filename)
                data = None if read is None or entry is None else payload(read, entry, crc, size)
            code = None if data is None else marshal.loads(data)
        except (OSError, EOFError, ValueError, TypeError):
            return None
        return code if isinstance(code, CodeType) else None

    def _open(self) -> None:
        with lock:
            if self.index is not None:
                return
            self.index = {}  # absent, damaged or untrusted: empty
            found = checked_root()
            if found is None:
                return
            shard = f"pack/{self.key[:2]}"
            try:
                cacheroot.folder(found, shard, create=False)
                read = Reader(cacheroot.open_file(found, f"{shard}/{self.key[2:]}"))
                index = parse(read, self.identity)
            except Untrusted as exc:
                distrust(exc)
                return
            except OSError:
                return
            if index is not None:
                self.read, self.index = read, index


def count_held(folder: str, identity: str, members: Dict[str, Tuple[int, int]]) -> int:
    """How many of ``members`` (code filename -> member CRC, size) the pack in cache ``folder`` holds code for.

    For ``zrun info``, which reports without creating or adopting a cache: the
    file is read by path and nothing it holds is run.
    """
    key = pack_key(identity)
    try:
        read = Reader(os.open(os.path.join(folder, "pack", key[:2], key[2:]), os.O_RDONLY | getattr(os, "O_BINARY", 0)))
    except OSError:
        return 0
    index = parse(read, identity)
    if index is None:
        return 0
    return sum(1 for name, want in members.items() if isinstance(index.get(name), tuple) and index[name][:2] == want)
