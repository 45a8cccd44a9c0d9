"""Packs (:mod:`zrun.cache.packs`) read whole or written: what is on disk now plus this process's code, as one file.

Imported only at exit, when a process has compiled something to keep, and by ``zrun info``.

Concurrency: two processes that compiled from the same archive both write at
exit. Each reads the pack as it is on disk *then* (not as it was when the run
started), adds its own entries (its own win: they were compiled from the
member as it is), writes the whole under a temporary name and renames it into
place. A rename is atomic, so a reader opens the old pack or the new one,
never half of one; if both processes read before either renamed, the last
rename wins and the loser's entries are compiled again by a later run, which
adds them. No lock, so a writer never waits.

Durability follows the rule for code and index entries (:func:`zrun.cache.store.write_atomically`):
no ``fsync``. The header's CRCs expose a pack torn by a crash, and it is then
ignored and rebuilt; an ``fsync`` per write cost a first run several times more
on this machine's shared disk (docs/cache.md).
"""

from __future__ import annotations

import marshal
import os

from ..stdlib import stdlib
from . import Reader, checked_root, distrust, unwritable
from . import root as cacheroot
from .packs import HEADER, MAGIC, MAX_BYTES, Pack, pack_key, parse, payload
from .root import Untrusted

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, Tuple

    from .root import Root


def write(pack: Pack) -> None:
    """Write ``pack`` (on-disk entries and new ones) in place of the current file; failures are ignored."""
    found = checked_root()
    if found is None or found.path in unwritable:
        return
    shard = f"pack/{pack.key[:2]}"
    try:
        cacheroot.folder(found, shard, create=True)
        entries = {**on_disk(found, f"{shard}/{pack.key[2:]}", pack.identity), **pack.new}
        data = encode(pack.identity, entries)
        if len(data) <= MAX_BYTES:
            from .store import write_atomically

            write_atomically(found, shard, pack.key[2:], data, 0o600)
        pack.dirty = False
    except Untrusted as exc:
        distrust(exc)
    except FileNotFoundError:  # a folder removed by a concurrent clear: made again next time
        found.checked.discard(shard)
    except OSError:
        unwritable.add(found.path)  # read-only, full or forbidden: stop trying in this process


def on_disk(found: Root, rel: str, identity: str) -> Dict[str, Tuple[int, int, bytes]]:
    """The intact entries of the pack at ``rel`` if it is ``identity``'s; none if it is absent or damaged."""
    try:
        read = Reader(cacheroot.open_file(found, rel))
    except FileNotFoundError:
        return {}
    parsed = parse(read, identity)
    if parsed is None:
        return {}
    index, start = parsed
    kept = {}
    for filename, entry in index.items():
        data = payload(read, start, entry)
        if isinstance(filename, str) and data is not None:
            kept[filename] = (entry[0], entry[1], data)
    return kept


def encode(identity: str, entries: Dict[str, Tuple[int, int, bytes]]) -> bytes:
    """The bytes of a pack holding ``entries`` (filename -> member CRC, member size, marshalled code)."""
    crc32 = stdlib("zlib").crc32
    table, chunks, offset = {}, [], 0
    for filename, (crc, size, data) in entries.items():
        table[filename] = (crc, size, offset, len(data), crc32(data))
        chunks.append(data)
        offset += len(data)
    index = marshal.dumps((identity, table))
    head = MAGIC + b"".join(n.to_bytes(w, "little") for n, w in ((len(table), 4), (len(index), 4), (offset, 8), (crc32(index), 4)))
    assert len(head) == HEADER - 4
    return b"".join([head, crc32(head).to_bytes(4, "little"), index, *chunks])


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
    parsed = parse(read, identity)
    if parsed is None:
        return 0
    index = parsed[0]
    return sum(1 for name, want in members.items() if isinstance(index.get(name), tuple) and index[name][:2] == want)
