"""Files of a source extracted into the cache, once, intact, safely against concurrent first runs.

Native extensions (:mod:`zrun.loading.extensions`) are copied out when imported, and
nothing else: shiv and pex extract everything up front, and shiv's extractions
pile up (shiv #188). Every archive gets one folder, named by its identity, that
mirrors the archive's layout and fills up as extensions are imported, so the
relative ``RPATH`` an extension was linked with (``$ORIGIN/../pkg.libs``) finds
its libraries, and libraries shared by many extensions are written once.

Each extracted file is checked before it is used: its size and CRC-32 must be
the member's, as the archive's index gives them (a source without a file,
memory or zip bytes, must match byte for byte), so a truncated or damaged copy
is written again rather than failing every later run; a file is checked once
per process. The folder is named by the archive's identity, whose change time
no user can set, so a replaced archive gets another folder.

Concurrent first runs (pex #401, #1051, #1119, #1693) follow pex's
``atomic_directory``, one file at a time:

1. A process that finds every file it needs intact uses them: each file appears
   whole, by rename, so existing and intact means complete.
2. Otherwise it takes an exclusive ``flock`` on ``<folder>.lock``. The kernel
   drops the lock of a process that dies, so a crashed holder never blocks the
   others; waiting is bounded by ``timeout``, after which the process goes on
   without the lock (step 4 keeps that correct: the lock only saves work).
3. The holder looks again (the previous holder may have written the files while
   it waited), and writes each file still missing or damaged under a private
   temporary name beside its final one, ``<file>.<pid>-<thread>.tmp``, fsynced.
4. It renames the temporary file onto the final name and fsyncs the folder. A
   process that raced past the lock renames identical bytes over them; a
   library already mapped by another process keeps its old inode, so nobody
   ever sees a half-written file.

When the cache is off, untrusted or cannot be written, the folder is a private
temporary one (checked the same way), removed at exit: an extension still
imports, it is just extracted again.
"""

from __future__ import annotations

import errno
import os
import stat
import zlib

from ..cache import root as cacheroot
from ..cache import store as cache
from ..cache.root import Untrusted
from ..errors import ArchiveError
from ..stdlib import stdlib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Dict, List, Mapping, NamedTuple, Optional, Set, Tuple, Union

    from ..cache.root import Root

    class Wanted(NamedTuple):
        size: int
        crc: int
        read: Callable[[], bytes]
        data: Optional[bytes] = None
else:
    from collections import namedtuple

    Wanted = namedtuple("Wanted", "size crc read data", defaults=(None,))
Wanted.__doc__ = """A member to extract: its size and CRC-32 from the index, its reader, and its bytes when there is no index."""

_touched: Dict[str, bool] = {}
_verified: Set[Tuple[str, str, int, int]] = set()
_private: List[Root] = []


class UnsafeMember(ArchiveError):
    """A member name that would land outside the extraction folder."""


def check_name(name: str, archive: str = "<archive>") -> List[str]:
    """The parts of a safe relative member name; absolute, ``..`` or drive names are refused, naming ``archive``."""
    parts = name.replace("\\", "/").split("/")
    if not name or "\0" in name or ":" in parts[0] or any(part in ("", ".", "..") for part in parts):
        raise UnsafeMember(archive, "refusing to extract an absolute or path-traversing name", name)
    return parts


def is_safe(name: str) -> bool:
    """Whether :func:`check_name` accepts ``name``."""
    try:
        check_name(name)
    except UnsafeMember:
        return False
    return True


def folder_key(archive_identity: str) -> str:
    """The name of the one extraction folder of an archive (its identity changes with its content)."""
    return cache.digest("ext", archive_identity)


def extract(
    archive_identity: str, members: Mapping[str, Union[Wanted, Callable[[], bytes]]], timeout: float = 60.0, *, archive: str = "<archive>"
) -> str:
    """The archive's folder, holding ``members`` at their relative paths, each intact.

    A member is a :class:`Wanted`, or just a reader, whose bytes the copy must
    then equal. Each member is written at most once per folder unless damaged;
    an untrusted, read-only or full cache falls back to a private folder, and
    only a failure there is raised. An unsafe name is :class:`UnsafeMember`
    naming ``archive`` and the member.
    """
    names = {name: "/".join(check_name(name, archive)) for name in members}
    wanted = {name: as_wanted(member) for name, member in members.items()}
    folder = f"ext/{folder_key(archive_identity)}"
    found = cache.root()
    if found is not None:
        try:
            return _fill(found, folder, names, wanted, timeout)
        except Untrusted as exc:
            cache.distrust(exc)
        except OSError:
            pass  # read-only, full or forbidden: extract privately instead
    return _fill(_private_root(), folder, names, wanted, timeout)


def as_wanted(member: Union[Wanted, Callable[[], bytes]]) -> Wanted:
    """``member`` itself, or a reader's bytes as the :class:`Wanted` they must match."""
    if isinstance(member, Wanted):
        return member
    data = bytes(member())
    return Wanted(len(data), zlib.crc32(data), lambda: data, data)


def _fill(found: Root, folder: str, names: Dict[str, str], wanted: Dict[str, Wanted], timeout: float) -> str:
    cacheroot.folder(found, folder.rpartition("/")[0], create=True)
    targets = {name: f"{folder}/{rel}" for name, rel in names.items()}
    damaged = [name for name, rel in targets.items() if not _intact(found, rel, wanted[name])]
    if not damaged:
        return _touch(found, folder)
    lock = _lock(found, f"{folder}.lock", timeout)
    try:
        for name in damaged:
            if not _intact(found, targets[name], wanted[name]):  # written by the previous lock holder?
                _write_member(found, targets[name], wanted[name])
    finally:
        if lock is not None:
            os.close(lock)  # releases the flock
    _touched[found.full(folder)] = True
    return found.full(folder)


def _intact(found: Root, rel: str, want: Wanted) -> bool:
    """Is ``rel`` the user's regular file with the member's size and CRC (or its very bytes)?"""
    memo = (found.path, rel, want.size, want.crc)
    if want.data is None and memo in _verified:
        return True
    try:
        cacheroot.folder(found, rel.rpartition("/")[0], create=False)
        fd = found.open(rel, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        st = os.fstat(fd)
        cacheroot.private(st, found.full(rel), cacheroot._uid(), stat.S_IFREG)
        if st.st_size != want.size:
            return False
        if want.data is not None:
            return os.read(fd, want.size + 1) == want.data
        crc, chunk = 0, bytearray(min(want.size, 1 << 20) or 1)
        with open(fd, "rb", buffering=0, closefd=False) as stream:  # 1 MiB at a time: memory stays bounded
            n = stream.readinto(chunk)
            while n:
                crc = zlib.crc32(memoryview(chunk)[:n], crc)
                n = stream.readinto(chunk)
    finally:
        os.close(fd)
    if crc != want.crc:
        return False
    _verified.add(memo)
    return True


def _write_member(found: Root, rel: str, want: Wanted) -> None:
    """Write the member under a temporary name beside ``rel``, fsynced, and rename it into place."""
    data = want.read()
    if len(data) != want.size or zlib.crc32(data) != want.crc:  # the archive was replaced while being read
        raise OSError(errno.ESTALE, "the archive changed while it was extracted; run again")
    parent, _, leaf = rel.rpartition("/")
    cacheroot.folder(found, parent, create=True)
    try:
        cache.write_atomically(found, parent, leaf, data, 0o700, durable=True)
    except OSError:
        if not _intact(found, rel, want):  # Windows refuses to replace a loaded DLL
            raise
    if want.data is None:
        _verified.add((found.path, rel, want.size, want.crc))


def _lock(found: Root, rel: str, timeout: float) -> Optional[int]:
    """A descriptor holding an exclusive flock on ``rel``, or ``None`` (no fcntl, timeout, error)."""
    try:
        fcntl = stdlib("fcntl")
    except ImportError:  # Windows: no lock, the rename alone keeps extraction correct
        return None
    time = stdlib("time")

    try:
        fd = found.open(rel, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return None
    deadline, delay = time.monotonic() + timeout, 0.001
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                break
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
        except OSError:  # e.g. ENOLCK on a network filesystem
            break
    os.close(fd)
    return None


def _touch(found: Root, folder: str) -> str:
    """Mark a reused folder as used (once per process), so ``prune`` keeps it."""
    path = found.full(folder)
    if path not in _touched:
        _touched[path] = True
        try:
            found.touch(folder)
        except OSError:
            pass
    return path


def _private_root() -> Root:
    """A fresh folder of the user's own in the temporary directory, checked like the cache, removed at exit."""
    if not _private:
        atexit, shutil, tempfile = stdlib("atexit"), stdlib("shutil"), stdlib("tempfile")
        path = tempfile.mkdtemp(prefix="zrun-ext-")
        try:
            found = cacheroot.open_root(path, create=False)
        except OSError:
            os.rmdir(path)
            raise
        _private.append(found)
        atexit.register(shutil.rmtree, path, True)
    return _private[0]
