"""Native extensions from archives: extracted lazily, once, into the cache.

The dynamic loader can only map a real file, so an extension module (with the
``*.libs`` / ``.dylibs`` folders that auditwheel, delvewheel and delocate put
its shared libraries in) is copied out of the archive when it is imported, and
nothing else: shiv and pex extract everything up front, and shiv's extractions
pile up (shiv #188). The folder is named by the archive's identity and the
member names, so every run of the same archive finds it again.

Concurrent first runs (pex #401, #1051, #1119, #1693) follow pex's
``atomic_directory``:

1. A process that finds the final folder uses it: it appears whole, by rename.
2. Otherwise it takes an exclusive ``flock`` on ``<folder>.lock``. The kernel
   drops the lock of a process that dies, so a crashed holder never blocks the
   others; waiting is bounded by ``timeout``, after which the process goes on
   without the lock (step 4 keeps that correct: the lock only saves work).
3. The holder looks again (the previous holder may have finished while it
   waited); if the folder is still missing it writes every member into a
   private work folder beside it, ``<folder>.<pid>-<thread>.work``.
4. It renames the work folder to the final name. A rename onto an existing,
   non-empty folder fails, so a process that raced past the lock deletes its
   work and uses the winner's. Readers never see a half-written folder.

When the cache is off or cannot be written, the folder is a private temporary
one, removed at exit: an extension still imports, it is just extracted again.
"""

from __future__ import annotations

import os

from . import cache
from .errors import ArchiveError, ExtensionInArchive

TYPE_CHECKING = False
if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec
    from typing import Any, Callable, Dict, List, Mapping, Optional

_touched: Dict[str, bool] = {}
_private: List[str] = []


class UnsafeMember(ArchiveError):
    """A member name that would land outside the extraction folder."""


def check_name(name: str) -> List[str]:
    """The parts of a safe relative member name; absolute, ``..`` or drive names are refused."""
    parts = name.replace("\\", "/").split("/")
    if not name or "\0" in name or ":" in parts[0] or any(part in ("", ".", "..") for part in parts):
        raise UnsafeMember("<archive>", "refusing to extract an absolute or path-traversing name", name)
    return parts


def folder_key(archive_identity: str, names: List[str]) -> str:
    return cache.digest("ext", archive_identity, *sorted(names))


def extract(archive_identity: str, members: Mapping[str, Callable[[], bytes]], timeout: float = 60.0) -> str:
    """The folder holding ``members`` (name -> reader) at their relative paths; extracted at most once."""
    checked = {name: check_name(name) for name in members}
    base = cache.directory()
    if base is None:
        base = _private_root()
    final = os.path.join(base, "ext", folder_key(archive_identity, list(members)))
    if os.path.isdir(final):
        return _touch(final)
    try:
        os.makedirs(os.path.dirname(final), 0o700, exist_ok=True)
    except OSError:  # read-only or full cache: extract privately instead
        final = os.path.join(_private_root(), "ext", os.path.basename(final))
        os.makedirs(os.path.dirname(final), 0o700, exist_ok=True)
    lock = _lock(final + ".lock", timeout)
    try:
        if os.path.isdir(final):
            return _touch(final)
        import _thread
        import shutil

        work = f"{final}.{os.getpid()}-{_thread.get_ident()}.work"
        shutil.rmtree(work, ignore_errors=True)  # a crashed earlier run of this very pid
        try:
            os.mkdir(work, 0o700)
            for name, parts in checked.items():
                _write_member(work, parts, members[name]())
            os.rename(work, final)
        except OSError:
            shutil.rmtree(work, ignore_errors=True)
            if not os.path.isdir(final):  # nobody won the race: a real failure
                raise
    finally:
        if lock is not None:
            os.close(lock)  # releases the flock
    return final


def _write_member(work: str, parts: List[str], data: bytes) -> None:
    folder = os.path.join(work, *parts[:-1])
    os.makedirs(folder, 0o700, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(os.path.join(folder, parts[-1]), flags, 0o700)
    try:
        cache.write_all(fd, data)
    finally:
        os.close(fd)


def _lock(path: str, timeout: float) -> Optional[int]:
    """A descriptor holding an exclusive flock on ``path``, or ``None`` (no fcntl, timeout, error)."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock, the rename alone keeps extraction correct
        return None
    import time

    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
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


def _touch(folder: str) -> str:
    """Mark a reused folder as used (once per process), so ``prune`` keeps it."""
    if folder not in _touched:
        _touched[folder] = True
        try:
            os.utime(folder)
        except OSError:
            pass
    return folder


def _private_root() -> str:
    if not _private:
        import atexit
        import shutil
        import tempfile

        _private.append(tempfile.mkdtemp(prefix="zrun-ext-"))
        atexit.register(shutil.rmtree, _private[0], True)
    return _private[0]


def extension_members(source: Any, entry: str) -> List[str]:
    """``entry`` and the shared libraries it may link against: top-level ``*.libs``, ancestor ``.dylibs``."""
    parts = entry.split("/")[:-1]
    folders = [name for name in source.children("") if name.endswith(".libs") and source.is_dir(name)]
    folders += ["/".join([*parts[:depth], ".dylibs"]) for depth in range(1, len(parts) + 1)]
    wanted, stack = [entry], [folder for folder in folders if source.is_dir(folder)]
    while stack:
        for child in source.children(stack.pop()):
            (stack if source.is_dir(child) else wanted).append(child)
    return wanted


def extension_spec(source: Any, fullname: str, entry: str) -> ModuleSpec:
    """A spec that loads extension ``entry`` of ``source`` from its extracted copy."""
    from importlib.machinery import ExtensionFileLoader
    from importlib.util import spec_from_file_location

    def reader(name: str) -> Callable[[], bytes]:
        return lambda: bytes(source.read(name))

    try:
        folder = extract(source.identity(), {name: reader(name) for name in extension_members(source, entry)})
    except OSError as exc:
        raise ExtensionInArchive(
            f"{source.filename(entry)}: extension module {fullname!r} could not be extracted: {exc}", name=fullname
        ) from None
    path = os.path.join(folder, *entry.split("/"))
    spec = spec_from_file_location(fullname, path, loader=ExtensionFileLoader(fullname, path))
    assert spec is not None
    return spec
