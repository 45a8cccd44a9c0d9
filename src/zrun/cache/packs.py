"""Compiled code of archive members: one pack file per archive, read once per process, written once.

A file per module cost a cold run of 2,000 modules ~2,000 creates and renames
(~0.4 ms each here) and a warm run ~2,000 opens and reads (issue 16). A pack
(``pack/ab/<38 hex>``; layout in docs/cache.md) holds the code of every module
compiled from one archive, for one interpreter and optimisation level: its key
is ``digest("pack", optimize, archive identity)``, and the identity (path,
device, inode, size, modification and change times) changes whenever the
archive is replaced. A run opens the pack once through the checked root
(:mod:`zrun.cache.root`), reads header and index in one read, then ``pread``s
a module's code when it is imported: only what is imported is read and held,
so peak memory does not grow by the pack's size. An entry is used only if the
member's CRC and size in the archive's index are the ones it was compiled from
and its bytes match their CRC-32; anything else (truncated, damaged, another
interpreter's, too large, another archive's) is a miss, never an error: the
code is compiled, and the pack rewritten. Code compiled in a run is kept in
memory and written as ONE new pack at exit (:func:`flush`, :mod:`zrun.cache.packwrite`).
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
    from typing import Any, Dict, List, Optional, Tuple, Union

    Key = Union["Slot", str]

MAGIC = b"ZRP1" + MAGIC_NUMBER
HEADER = 32
MAX_BYTES = 1 << 30  # a pack larger than this is neither read nor written: the code is compiled instead
_packs: Dict[str, Pack] = {}  # pack key -> the pack as this process knows it
_keys: Dict[Tuple[int, str], str] = {}  # (optimize, archive identity) -> pack key: one hash per archive, not per module
_lock = stdlib("_thread").allocate_lock()
_flushing: List[bool] = []  # atexit hook registered


class Slot(tuple):  # type: ignore[type-arg]
    """Where the code of one archive member lives: its pack, and what the member must still be (CRC, size)."""

    __slots__ = ()

    def __new__(cls, pack: str, identity: str, filename: str, crc: int, size: int) -> Slot:
        return tuple.__new__(cls, (pack, identity, filename, crc, size))

    pack = property(lambda self: self[0])
    identity = property(lambda self: self[1])
    filename = property(lambda self: self[2])
    crc = property(lambda self: self[3])
    size = property(lambda self: self[4])


def pack_key(identity: str) -> str:
    """The key of the pack for the archive ``identity`` at this optimisation level."""
    level = sys.flags.optimize
    key = _keys.get((level, identity))
    if key is None:
        key = _keys[level, identity] = digest("pack", level, identity)
    return key


def keyed(source: Any, entry: str, filename: str) -> Tuple[Optional[Key], Optional[bytes]]:
    """The cache key for ``entry``, and its bytes if the key needed them; ``(None, None)`` when uncached.

    A member of an archive *file* lives in the archive's pack and is found by
    what its index says (CRC and size), so a warm run reads nothing from the
    archive. Everything else (memory sources, zip bytes, whose length and CRC
    anyone can forge) is keyed by a hash of its bytes, one entry file each
    (:mod:`zrun.cache.store`); those bytes are returned for compiling.
    """
    if directory() is None:
        return None, None
    archive = getattr(source, "archive", None)
    if archive is not None and getattr(source, "has_location", False):
        member = archive.members.get(filename[len(archive.path) + 1:].replace(os.sep, "/"))
        if member is not None:
            identity = source.identity()
            return Slot(pack_key(identity), identity, filename, member.crc, member.size), None
    from . import store

    data = source.read(entry)
    return store.code_key("content", filename, digest(data), len(data)), data


def load_code(key: Key) -> Optional[CodeType]:
    """The cached code for ``key``; ``None`` if absent, stale, damaged or unreadable."""
    if isinstance(key, Slot):
        return _pack(key).code(key)
    from . import store

    return store.load_entry_code(key)


def store_code(key: Key, code: CodeType) -> None:
    """Keep ``code``, unless ``-B``/``PYTHONDONTWRITEBYTECODE`` asked for no bytecode on disk."""
    if sys.dont_write_bytecode:
        return
    if isinstance(key, Slot):
        _pack(key).add(key, marshal.dumps(code))
        return
    from . import store

    store.store_entry_code(key, code)


def flush() -> None:
    """Write every pack that gained code in this process, each as one new file (its old entries and the new).

    Registered with :mod:`atexit` when the first code is kept; :func:`zrun.cache.reset`
    runs it too. At exit rather than after each run: a host or a test that runs
    many times still writes once, and a CLI run ends with its process anyway
    (MEASURED). A process killed before exit (SIGKILL, ``os._exit``) writes
    nothing: its next run compiles again. Failures are ignored, as for every cache write.
    """
    with _lock:
        dirty = [pack for pack in _packs.values() if pack.dirty]
    if dirty:
        from . import packwrite

        for pack in dirty:
            packwrite.write(pack)


def _forget() -> None:
    flush()
    with _lock:
        _packs.clear()
        _keys.clear()


_on_reset.append(_forget)


def _pack(slot: Slot) -> Pack:
    pack = _packs.get(slot.pack)
    if pack is None:
        with _lock:
            pack = _packs.setdefault(slot.pack, Pack(slot.pack, slot.identity))
    return pack


def parse(read: Reader, identity: str) -> Optional[Tuple[Dict[str, Any], int]]:
    """The index of the pack ``read`` reads, and where its data starts; ``None`` unless it is whole and ``identity``'s."""
    crc32 = stdlib("zlib").crc32
    size = read.size
    if not HEADER <= size <= MAX_BYTES:
        return None
    first = read(0, min(size, 1 << 18))  # header and index in one read, but for huge packs
    if first[:8] != MAGIC or crc32(first[:28]) != int.from_bytes(first[28:32], "little"):
        return None
    count, length = int.from_bytes(first[8:12], "little"), int.from_bytes(first[12:16], "little")
    if HEADER + length + int.from_bytes(first[16:24], "little") != size:
        return None
    raw = first[HEADER:HEADER + length]
    if len(raw) < length:
        raw += read(len(first), HEADER + length - len(first))
    if len(raw) != length or crc32(raw) != int.from_bytes(first[24:28], "little"):
        return None
    try:
        found, entries = marshal.loads(raw)
    except (EOFError, ValueError, TypeError):
        return None
    if found != identity or not isinstance(entries, dict) or len(entries) != count:
        return None
    return entries, HEADER + length


def payload(read: Reader, start: int, entry: Any, crc: Optional[int] = None, size: Optional[int] = None) -> Optional[bytes]:
    """The bytes of index ``entry`` if they are whole and (given ``crc`` and ``size``) compiled from that member."""
    if not (isinstance(entry, tuple) and len(entry) == 5 and all(type(value) is int for value in entry)):
        return None
    if crc is not None and (entry[0] != crc or entry[1] != size):
        return None
    offset, length, check = entry[2:]
    if offset < 0 or length < 0 or start + offset + length > read.size:
        return None
    data = read(start + offset, length)
    return data if len(data) == length and stdlib("zlib").crc32(data) == check else None


class Pack:
    """One archive's pack as this process sees it: the index read at first use, and the code compiled since."""

    def __init__(self, key: str, identity: str) -> None:
        self.key, self.identity = key, identity
        self.new: Dict[str, Tuple[int, int, bytes]] = {}  # filename -> member CRC, size, marshalled code
        self.dirty = False
        self._read: Optional[Reader] = None
        self._index: Optional[Tuple[Dict[str, Any], int]] = None

    def code(self, slot: Slot) -> Optional[CodeType]:
        """The code of ``slot``'s member, if this pack holds it for the member as it is now."""
        kept = self.new.get(slot.filename)
        if kept is not None and kept[:2] == (slot.crc, slot.size):
            data: Optional[bytes] = kept[2]
        else:
            if self._index is None:
                self._open()
            read, index = self._read, self._index
            entry = None if read is None or index is None else index[0].get(slot.filename)
            try:
                data = None if entry is None else payload(read, index[1], entry, slot.crc, slot.size)  # type: ignore[arg-type,index]
            except OSError:
                data = None
        try:
            code = None if data is None else marshal.loads(data)
        except (EOFError, ValueError, TypeError):
            return None
        return code if isinstance(code, CodeType) else None

    def add(self, slot: Slot, data: bytes) -> None:
        """Keep code compiled for ``slot``'s member, to be written with the pack at exit."""
        with _lock:
            self.new[slot.filename] = (slot.crc, slot.size, data)
            self.dirty = True
            if not _flushing:
                _flushing.append(True)
                stdlib("atexit").register(flush)

    def _open(self) -> None:
        with _lock:
            if self._index is not None:
                return
            self._index = ({}, 0)  # absent, damaged or untrusted: empty
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
                self._read, self._index = read, index

