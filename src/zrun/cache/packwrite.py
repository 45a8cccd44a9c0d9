"""Writing a pack (:mod:`zrun.cache.packs`): code spooled to one temporary file as it is compiled, renamed at exit.

Imported when a process compiles its first module to keep (cold runs only).

Memory: each module's code is marshalled when it is compiled and appended to
the pack's temporary file (``<name>.<pid>-<thread>.tmp``, through a 64 KiB
buffer: a few writes in all, never a file per module, no descriptor held between them), so a cold run
holds neither the code objects nor their bytes (holding the code objects cost
10 MB more peak RSS for 2,000 modules, their bytes 25 MB). At exit
:meth:`Spool.finish` appends the entries of the pack on disk *then* that this
process did not compile, the index, then writes the header at the front and
renames the file into place.

Concurrency: two processes that compiled from the same archive each spool to
their own temporary file and rename it at exit, each holding what was on disk
when it finished; a rename is atomic, so a reader opens the old pack or a new
one, never half of one. If both finish before seeing the other's pack, the
last rename wins and the other's entries are compiled again by a later run,
which adds them. No lock, so a writer never waits. A forked child never
touches its parent's spool (it checks the process id).

Durability follows the rule for code and index entries
(:func:`zrun.cache.store.write_atomically`): no ``fsync``. The header's CRCs
expose a pack torn by a crash, which is then ignored and rebuilt. A process
killed before exit leaves its temporary file, which ``zrun cache prune``
removes once it is ten minutes old.
"""

from __future__ import annotations

import marshal
import os
import sys

from ..stdlib import stdlib
from . import Reader, _on_reset, checked_root, distrust, store, unwritable
from . import root as cacheroot
from .packs import HEADER, MAGIC, MAX_BYTES, Pack, Slot, known, lock, pack_for, parse, payload
from .root import Untrusted

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import CodeType
    from typing import Any, Dict, Optional, Tuple

    from .packs import Key
    from .root import Root

_BUFFER = 1 << 16
SPOOLS = 8  # packs being written at once, at most: a host that runs many archives finishes the oldest first


def store_code(key: Key, code: CodeType) -> None:
    """Keep ``code``, unless ``-B``/``PYTHONDONTWRITEBYTECODE`` asked for no bytecode on disk."""
    if not isinstance(key, Slot):
        store.store_code(key, code)  # a memory source's: a file of its own
    elif not sys.dont_write_bytecode:
        add(key, code)


def add(slot: Slot, code: CodeType) -> None:
    """Spool code compiled for ``slot``'s member, to be renamed into place with its pack at exit."""
    pack = pack_for(slot)
    with lock:
        if pack.spool is None and not pack.failed:
            spooling = [other for other in known.values() if other.spool is not None]
            for other in spooling[: max(0, len(spooling) - SPOOLS + 1)]:  # a long-running host: the oldest first
                _finish(other)
            pack.spool = start(pack.key, pack.identity)
            pack.failed = pack.spool is None
        if pack.spool is not None:
            try:
                pack.spool.add(slot[2], slot[3], slot[4], code)
            except OSError:  # a full disk: nothing more from this pack
                pack.spool.abandon()
                pack.spool, pack.failed = None, True


def flush() -> None:
    """Put every pack that gained code in this process into place, each as one file (its old entries and the new).

    Registered with :mod:`atexit`, and run by :func:`zrun.cache.reset`. At exit, not after each run: a
    host that runs many times renames once, a CLI run ends with its process anyway, and renaming costs
    ~1 ms (the code was spooled as it was compiled, ~6 µs a module: docs/cache.md). A process killed
    first (SIGKILL, ``os._exit``) renames nothing, and its next run compiles again. Afterwards this
    process reads each pack from what it wrote.
    """
    with lock:
        for pack in list(known.values()):
            _finish(pack)


def _finish(pack: Pack) -> None:
    spool, pack.spool = pack.spool, None
    if spool is not None:
        finish(spool)
        pack.read = pack.index = None  # read again from what was written, when next needed


class Spool:
    """The temporary file a pack is being written to: new entries appended, the rest at :meth:`finish`."""

    def __init__(self, found: Root, shard: str, name: str, identity: str) -> None:
        """Create the temporary file (:class:`OSError`, :class:`~zrun.cache.root.Untrusted` if it cannot be)."""
        import _thread

        self.found, self.shard, self.name, self.identity = found, shard, name, identity
        self.pid = os.getpid()
        cacheroot.folder(found, shard, create=True)
        self.tmp = f"{shard}/{name}.{self.pid}-{_thread.get_ident()}.tmp"
        os.close(found.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))  # held open only while written to
        self.table: Dict[str, Tuple[int, int, int, int, int]] = {}  # filename -> member CRC, size, offset, length, CRC-32
        self.buffer = bytearray(HEADER)  # room for the header, written last
        self.end = 0  # data bytes so far (offsets count from the end of the header)

    def add(self, filename: str, crc: int, size: int, code: CodeType) -> None:
        """Append ``code`` for that member (replacing what this process appended for it before)."""
        self._mine()
        data = marshal.dumps(code)
        if HEADER + self.end + len(data) > MAX_BYTES - (1 << 20):  # room for the index
            return
        self.table[filename] = (crc, size, self.end, len(data), stdlib("zlib").crc32(data))
        self.buffer += data
        self.end += len(data)
        if len(self.buffer) >= _BUFFER:
            self._drain()

    def read(self, entry: Tuple[int, int, int, int, int]) -> Optional[bytes]:
        """The bytes of an entry appended here (for a module imported again in this process)."""
        self._drain()
        return payload(Reader(self.found.open(self.tmp, os.O_RDONLY)), entry)

    def finish(self) -> None:
        """Add the on-disk pack's other entries, the index and the header; rename the file into place."""
        old = on_disk(self.found, f"{self.shard}/{self.name}", self.identity)
        if old is not None:
            read, entries = old
            for filename, entry in entries.items():
                if filename not in self.table and isinstance(filename, str):
                    data = payload(read, entry)
                    if data is not None and HEADER + self.end + len(data) <= MAX_BYTES - (1 << 20):
                        self.table[filename] = (*entry[:2], self.end, len(data), entry[4])
                        self.buffer += data
                        self.end += len(data)
                        if len(self.buffer) >= _BUFFER:
                            self._drain()
        index = marshal.dumps((self.identity, self.table))
        self.buffer += index
        self._drain()
        from .store import write_all

        fd = self.found.open(self.tmp, os.O_WRONLY)
        try:
            write_all(fd, header(len(self.table), index, self.end))  # at the front, over the room left for it
        finally:
            os.close(fd)
        self.found.replace(self.tmp, f"{self.shard}/{self.name}")

    def abandon(self) -> None:
        """Remove the temporary file (a failed write; a forked child leaves its parent's alone)."""
        if os.getpid() == self.pid:
            from .store import discard

            discard(self.found, self.tmp)

    def _mine(self) -> None:
        """A forked child must neither write to its parent's file nor read it back (it keeps nothing)."""
        if os.getpid() != self.pid:
            raise ChildProcessError("a spool of the parent process")

    def _drain(self) -> None:
        self._mine()
        if self.buffer:
            from .store import write_all

            fd = self.found.open(self.tmp, os.O_WRONLY | os.O_APPEND)  # no descriptor held between writes
            try:
                write_all(fd, self.buffer)
            finally:
                os.close(fd)
            self.buffer = bytearray()


def start(key: str, identity: str) -> Optional[Spool]:
    """A spool for the pack ``key``, or ``None`` when the cache cannot be written (then nothing is kept)."""
    found = checked_root()
    if found is None or found.path in unwritable:
        return None
    try:
        return Spool(found, f"pack/{key[:2]}", key[2:], identity)
    except Untrusted as exc:
        distrust(exc)
    except OSError:
        unwritable.add(found.path)  # read-only, full or forbidden: stop trying in this process
    return None


def finish(spool: Spool) -> None:
    """:meth:`Spool.finish`; when it fails the temporary file is removed (and an interrupt goes on)."""
    if os.getpid() != spool.pid:  # a forked child: its parent finishes this spool
        return
    try:
        spool.finish()
    except Untrusted as exc:
        spool.abandon()
        distrust(exc)
    except OSError:
        spool.abandon()
        unwritable.add(spool.found.path)
    except BaseException:
        spool.abandon()
        raise


def on_disk(found: Root, rel: str, identity: str) -> Optional[Tuple[Reader, Dict[str, Any]]]:
    """A reader and the index of the pack at ``rel`` if it is whole and ``identity``'s."""
    try:
        read = Reader(cacheroot.open_file(found, rel))
    except FileNotFoundError:
        return None
    index = parse(read, identity)
    return None if index is None else (read, index)


def encode(identity: str, entries: Dict[str, Tuple[int, int, bytes]]) -> bytes:
    """The bytes of a pack holding ``entries`` (filename -> member CRC, member size, marshalled code), as :class:`Spool` writes it."""
    crc32 = stdlib("zlib").crc32
    table, chunks, end = {}, [], 0
    for filename, (crc, size, data) in entries.items():
        table[filename] = (crc, size, end, len(data), crc32(data))
        chunks.append(data)
        end += len(data)
    index = marshal.dumps((identity, table))
    return b"".join([header(len(table), index, end), *chunks, index])


def header(count: int, index: bytes, end: int) -> bytes:
    """The 32 bytes at the front of a pack of ``count`` entries, ``end`` bytes of code, then ``index``."""
    crc32 = stdlib("zlib").crc32
    fields = ((count, 4), (len(index), 4), (end, 8), (crc32(index), 4))
    head = MAGIC + b"".join(n.to_bytes(width, "little") for n, width in fields)
    return bytes(head + crc32(head).to_bytes(4, "little"))


_on_reset.append(flush)  # zrun.cache.reset() runs the hooks last first: this one before the packs are forgotten
stdlib("atexit").register(flush)
