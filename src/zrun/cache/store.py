"""Cache entries kept one file each: code of memory sources, archive indexes; and how every entry is written.

Entries are named by a digest of what they were made from (:func:`zrun.cache.digest`),
salted with the zrun version and the bytecode magic, so versions and interpreters
never share one, and sharded by the digest's first two hex digits
(``code/ab/<38 hex>``). A header (magic, length, CRC-32) exposes a damaged entry,
which is then ignored and replaced. Writes go to a temporary name and are renamed
into place. Code of archive members is not kept here but in one pack per archive
(:mod:`zrun.cache.packs`).
"""

from __future__ import annotations

import marshal
import os
import sys
from importlib._bootstrap_external import MAGIC_NUMBER
from types import CodeType

from ..stdlib import stdlib
from . import TAG_NAME, Reader, checked_root, hash_bytes, unwritable
from . import digest as digest  # the names below: what other modules use from here
from . import directory as directory
from . import distrust as distrust
from . import location as location
from . import reset as reset
from . import root as cacheroot
from . import trusted as trusted
from .root import Untrusted

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional, Tuple, Union

    from .root import Root

root = checked_root  # the name callers use
KINDS = ("code", "index", "ext", "pack")  # the only folders zrun.cli.cacheadmin ever deletes from
_HEAD = b"ZRC1" + MAGIC_NUMBER  # then the payload's length and CRC-32, 4 bytes each


def is_temporary(name: str) -> bool:
    """Is ``name`` one of :func:`write_atomically`'s temporary names (``<name>.<pid>-<thread>.tmp``)?"""
    stem, _, tail = name.rpartition(".")
    pid, _, thread = stem.rpartition(".")[2].partition("-")
    return tail == "tmp" and pid.isdigit() and thread.isdigit() and pid.isascii() and thread.isascii()


def is_tag_temporary(name: str) -> bool:
    """A temporary name of the ``CACHEDIR.TAG`` being written (an empty folder holding one is still empty)."""
    return name.startswith(f"{TAG_NAME}.") and is_temporary(name)


def code_key(source_identity: str, member: str, crc_or_digest: Any, size: int) -> str:
    """Key of code compiled from ``member``; that is its filename, which every code object holds.

    The same bytes as ``digest("code", optimize, ...)``, built with one f-string:
    this runs once per imported module.
    """
    text = f"code\0{sys.flags.optimize}\0{source_identity}\0{member}\0{crc_or_digest}\0{size}"
    return hash_bytes(text.encode("utf-8", "surrogatepass"))


def load_code(key: str) -> Optional[CodeType]:
    """The code object kept in entry ``key`` (a memory source's, :func:`code_key`); ``None`` if absent, damaged or not code."""
    payload = load("code", key)
    try:
        code = None if payload is None else marshal.loads(payload)
    except (EOFError, ValueError, TypeError):
        return None
    return code if isinstance(code, CodeType) else None


def store_code(key: str, code: CodeType) -> None:
    """Keep ``code`` in entry ``key``, unless ``-B``/``PYTHONDONTWRITEBYTECODE`` asked for no bytecode on disk."""
    if not sys.dont_write_bytecode:
        store("code", key, marshal.dumps(code))


def load_index(identity: str) -> Optional[memoryview]:
    """What :func:`store_index` kept for an archive ``identity`` (path and stat), if intact."""
    return load("index", digest("index", identity))


def store_index(identity: str, data: bytes | bytearray) -> None:
    store("index", digest("index", identity), data)


def open_index(identity: str) -> Optional[Tuple[Callable[[int, int], bytes], int]]:
    """A reader of the entry :func:`store_index` kept for ``identity``, and its payload's length.

    Only the entry's magic and length are checked here, not its CRC-32: that
    would read every byte of a tens-of-MB index on every run. The payload
    carries its own checks (:mod:`zrun.zip.table`), made on the bytes a run
    reads. ``read(position, length)`` reads the payload; it keeps the file open
    as long as it lives.
    """
    fd = _entry("index", digest("index", identity), cacheroot.open_file)
    if fd is None:
        return None
    read = Reader(fd, 16)
    head = read(-16, 16)
    if head[:8] != _HEAD or int.from_bytes(head[8:12], "little") != read.size - 16:
        return None
    return read, read.size - 16


def _entry(kind: str, key: str, opener: Callable[[Root, str], Any]) -> Any:
    """``opener(root, path)`` for entry ``key`` of ``kind`` in its checked shard; ``None`` if absent or untrusted."""
    found = root()
    if found is None:
        return None
    shard = f"{kind}/{key[:2]}"
    try:
        cacheroot.folder(found, shard, create=False)
        return opener(found, f"{shard}/{key[2:]}")
    except Untrusted as exc:
        distrust(exc)
        return None
    except OSError:
        return None


def load(kind: str, key: str) -> Optional[memoryview]:
    """The payload of entry ``key`` of ``kind``, or ``None`` if absent, short or damaged."""
    data = _entry(kind, key, cacheroot.read_file)
    if data is None:
        return None
    zlib = stdlib("zlib")
    body = memoryview(data)[16:]
    if data[:8] != _HEAD or int.from_bytes(data[8:12], "little") != len(body):
        return None
    return body if zlib.crc32(body) == int.from_bytes(data[12:16], "little") else None


def store(kind: str, key: str, payload: bytes | bytearray) -> None:
    """Write entry ``key`` of ``kind`` atomically; failures (read-only, full disk) are ignored."""
    found = root()
    if found is None or found.path in unwritable:
        return
    zlib = stdlib("zlib")
    head = _HEAD + len(payload).to_bytes(4, "little") + zlib.crc32(payload).to_bytes(4, "little")
    shard = f"{kind}/{key[:2]}"
    try:
        cacheroot.folder(found, shard, create=True)
        write_atomically(found, shard, key[2:], _writer(head, payload), 0o600)
    except Untrusted as exc:
        distrust(exc)
    except FileNotFoundError:  # a folder removed by a concurrent clear: made again next time
        found.checked.discard(shard)
    except OSError:
        unwritable.add(found.path)  # read-only, full or forbidden: stop trying in this process


def _writer(head: bytes, payload: bytes | bytearray) -> Callable[[int], None]:
    """Header, then payload: ``head + payload`` would copy a large archive's index
    table (65 MB at 1,000,000 entries) at the first run's peak of memory."""

    def write(fd: int) -> None:
        write_all(fd, head)
        write_all(fd, payload)

    return write


def write_atomically(
    found: Root, folder: str, name: str, data: Union[bytes, Callable[[int], None]], mode: int, durable: bool = False
) -> None:
    """Write a temporary file in ``folder`` (relative to the root) and rename it to ``name``.

    ``data`` is the bytes, or a function that writes them to the descriptor it
    is given (a pack is written entry by entry, never held whole in memory).

    The temporary file is removed whatever stops the write, an interrupt too,
    so a file is either whole under its final name or not there at all. With
    ``durable`` the file is fsynced before the rename and its folder after, so
    a crash cannot leave a renamed but empty or short file (extracted
    extensions). Code and index entries skip that: their header's length and
    CRC already expose such a file, which is then rebuilt, and two fsyncs per
    entry made the first run of 2,000 modules 11-24 s instead of 1.2-1.9 s
    (docs/cache.md).
    """
    import _thread

    final = f"{folder}/{name}" if folder else name
    tmp = f"{final}.{os.getpid()}-{_thread.get_ident()}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    try:
        fd = found.open(tmp, flags, mode)
        try:
            if callable(data):
                data(fd)
            else:
                write_all(fd, data)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        found.replace(tmp, final)
    except BaseException:
        discard(found, tmp)
        raise
    if durable:
        found.sync(folder)


def discard(found: Root, rel: str) -> None:
    """Remove a temporary file, if it is there."""
    try:
        found.unlink(rel)
    except OSError:
        pass


def write_all(fd: int, data: Union[bytes, bytearray]) -> None:
    """Write every byte: ``os.write`` may write fewer than it was given."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
