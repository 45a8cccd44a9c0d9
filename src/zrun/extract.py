"""Native extensions from archives: extracted lazily, once, into the cache.

The dynamic loader can only map a real file, so an extension module (with the
``*.libs`` / ``.dylibs`` folders that auditwheel, delvewheel and delocate put
its shared libraries in) is copied out of the archive when it is imported, and
nothing else: shiv and pex extract everything up front, and shiv's extractions
pile up (shiv #188). Every archive gets one folder, named by its identity, that
mirrors the archive's layout and fills up as extensions are imported, so the
relative ``RPATH`` an extension was linked with (``$ORIGIN/../pkg.libs``) finds
its libraries, and libraries shared by many extensions are written once.

Concurrent first runs (pex #401, #1051, #1119, #1693) follow pex's
``atomic_directory``, one file at a time:

1. A process that finds every file it needs uses them: each file appears whole,
   by rename, so existing means complete.
2. Otherwise it takes an exclusive ``flock`` on ``<folder>.lock``. The kernel
   drops the lock of a process that dies, so a crashed holder never blocks the
   others; waiting is bounded by ``timeout``, after which the process goes on
   without the lock (step 4 keeps that correct: the lock only saves work).
3. The holder looks again (the previous holder may have written the files while
   it waited), and writes each file still missing under a private temporary
   name beside its final one, ``<file>.<pid>-<thread>.tmp``.
4. It renames the temporary file onto the final name. A process that raced past
   the lock renames identical bytes over them; a library already mapped by
   another process keeps its old inode, so nobody ever sees a half-written file.

When the cache is off or cannot be written, the folder is a private temporary
one, removed at exit: an extension still imports, it is just extracted again.
"""

from __future__ import annotations

import os
from importlib.machinery import ExtensionFileLoader, ModuleSpec  # loaded already: zrun.loader imports machinery

from . import cache
from .errors import ArchiveError, ExtensionInArchive

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Mapping, Optional

_touched: Dict[str, bool] = {}
_private: List[str] = []


class UnsafeMember(ArchiveError):
    """A member name that would land outside the extraction folder."""


class ExtractedLoader(ExtensionFileLoader):
    """An extension loaded from its extracted copy.

    A copy the dynamic loader refuses (damaged, or built for another platform)
    is reported by its name in the archive, as :class:`ExtensionInArchive`;
    errors raised by the module's own initialisation pass through untouched.
    """

    def __init__(self, fullname: str, path: str, member: str) -> None:
        super().__init__(fullname, path)
        self.member = member

    def create_module(self, spec: ModuleSpec) -> Any:
        try:
            return super().create_module(spec)
        except ImportError as exc:
            if type(exc) is not ImportError or exc.path != self.path:
                raise
            raise ExtensionInArchive(
                f"{self.member}: extension module {self.name!r} cannot be loaded: {exc} (extracted to {self.path})", name=self.name
            ) from exc


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


def extract(archive_identity: str, members: Mapping[str, Callable[[], bytes]], timeout: float = 60.0, *, archive: str = "<archive>") -> str:
    """The archive's folder, holding ``members`` (name -> reader) at their relative paths.

    Each member is written at most once per folder; a read-only or full cache
    falls back to a private folder, and only a failure there is raised. An
    unsafe name is :class:`UnsafeMember` naming ``archive`` and the member.
    """
    checked = {name: check_name(name, archive) for name in members}
    base = cache.directory()
    if base is not None:
        try:
            return _fill(os.path.join(base, "ext", folder_key(archive_identity)), checked, members, timeout)
        except OSError:
            pass  # read-only, full or forbidden: extract privately instead
    return _fill(os.path.join(_private_root(), "ext", folder_key(archive_identity)), checked, members, timeout)


def _fill(folder: str, checked: Dict[str, List[str]], members: Mapping[str, Callable[[], bytes]], timeout: float) -> str:
    targets = {name: os.path.join(folder, *parts) for name, parts in checked.items()}
    if all(os.path.isfile(path) for path in targets.values()):
        return _touch(folder)
    os.makedirs(folder, 0o700, exist_ok=True)
    lock = _lock(folder + ".lock", timeout)
    try:
        for name, path in targets.items():
            if not os.path.isfile(path):  # written by the previous lock holder?
                _write_member(path, members[name]())
    finally:
        if lock is not None:
            os.close(lock)  # releases the flock
    _touched[folder] = True
    return folder


def _write_member(path: str, data: bytes) -> None:
    """Write ``data`` to a temporary name beside ``path`` and rename it into place."""
    os.makedirs(os.path.dirname(path), 0o700, exist_ok=True)
    try:
        cache.write_atomically(path, data, 0o700)
    except OSError:
        if not os.path.isfile(path):  # Windows refuses to replace a loaded DLL
            raise


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
    """``entry`` and the shared libraries it may link against: top-level ``*.libs``, ancestor ``.dylibs``.

    A library member whose name cannot be extracted safely (``C:.libs/x``) is
    left out, so it alone is refused, not every extension of the archive: an
    extension that needs it then fails to load, naming it.
    """
    parts = entry.split("/")[:-1]
    folders = [name for name in source.children("") if name.endswith(".libs") and source.is_dir(name)]
    folders += ["/".join([*parts[:depth], ".dylibs"]) for depth in range(1, len(parts) + 1)]
    wanted, stack = [entry], [folder for folder in folders if source.is_dir(folder)]
    while stack:
        for child in source.children(stack.pop()):
            if is_safe(child):
                (stack if source.is_dir(child) else wanted).append(child)
    return wanted


def extension_spec(source: Any, fullname: str, entry: str) -> ModuleSpec:
    """A spec that loads extension ``entry`` of ``source`` from its extracted copy.

    :class:`~zrun.errors.ExtensionInArchive` when no folder at all can be
    written (cache off or unwritable, and no usable temporary directory).
    """
    def reader(name: str) -> Callable[[], bytes]:
        return lambda: bytes(source.read(name))

    try:
        folder = extract(source.identity(), {name: reader(name) for name in extension_members(source, entry)}, archive=source.root)
    except OSError as exc:
        raise ExtensionInArchive(
            f"{source.filename(entry)}: extension module {fullname!r} could not be extracted: {exc}", name=fullname
        ) from None
    path = os.path.join(folder, *entry.split("/"))
    spec = ModuleSpec(fullname, ExtractedLoader(fullname, path, source.filename(entry)), origin=path)
    spec.has_location = True  # __file__ is the extracted copy: a real file, as the dynamic loader needs
    return spec
