"""The cache's root folder: checked once, component by component, then used only through a descriptor.

What it defends against: another local user who owns a folder on the way to the
cache (a shared ``XDG_CACHE_HOME=/tmp/team``, a symbolic link in ``/tmp``), or who
left folders inside it while it was writable. Whoever can rename a folder on the
path can swap the cache for one holding their code after any check made by
name, and zrun would run that code as the victim (issue 12, item 1). So, as
OpenSSH's ``StrictModes`` does for ``authorized_keys``:

1. The path is resolved (``realpath``) and walked from ``/`` one component at a
   time with ``O_NOFOLLOW | O_DIRECTORY``, each checked with ``fstat`` on the
   descriptor just opened, never by name: every folder owned by root or the
   user and writable by nobody else, except a sticky folder (``/tmp``) owned by
   root or the user, whose next component must then be the user's own; the
   root itself the user's and writable by nobody else. A missing component is
   created, ``0700``, inside a checked one. A symbolic link met during the walk
   means the path changed while it was checked: refused.
2. Everything after that is relative to the root's descriptor (``dir_fd=``).
   Each folder below it is checked (``lstat`` through the descriptor) before
   its first use in the process, files are opened ``O_NOFOLLOW`` and checked
   with ``fstat``.

Once checked, no folder on the path can be renamed, replaced or filled by
anyone but the user and root, so the path stays the one that was checked; this
is what lets extension modules be loaded by path (see :mod:`zrun.loading.extensions`).
Where ``dir_fd`` is missing (Windows), :class:`PathRoot` does the same
operations by path (:mod:`zrun.cache.pathroot`) and checks only the root, as zrun always did there:
``%LOCALAPPDATA%`` is private to the user by its ACL.
"""

from __future__ import annotations

import errno
import os
import stat

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Optional, Set, Tuple, Union

    from .pathroot import PathRoot

    Root = Union["FdRoot", PathRoot]

HAVE_DIR_FD = {os.open, os.stat, os.mkdir, os.unlink, os.rename} <= os.supports_dir_fd and hasattr(os, "O_DIRECTORY")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
_DIR = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _NOFOLLOW
_WALK = (getattr(os, "O_PATH", 0) or os.O_RDONLY) | getattr(os, "O_DIRECTORY", 0) | _NOFOLLOW  # O_PATH: no read right needed


class Untrusted(OSError):
    """A cache folder that someone else could change: worth one warning, then uncached runs."""


def _uid() -> Optional[int]:
    getuid = getattr(os, "getuid", None)
    return None if getuid is None else int(getuid())


def private(st: os.stat_result, what: str, uid: Optional[int], kind: int = stat.S_IFDIR) -> None:
    """Raise :class:`Untrusted` unless ``st`` is a ``kind`` the user owns and nobody else may write."""
    head = f"{what}: " if what else ""
    if stat.S_IFMT(st.st_mode) != kind:
        raise Untrusted(errno.ENOTDIR, f"{head}not a {'folder' if kind == stat.S_IFDIR else 'regular file'}")
    if uid is not None and st.st_uid != uid:
        raise Untrusted(errno.EPERM, f"{head}owned by uid {st.st_uid}, not {uid}")
    if uid is not None and st.st_mode & 0o022:
        raise Untrusted(errno.EPERM, f"{head}writable by others (mode {st.st_mode & 0o777:o})")


def open_root(path: str, create: bool) -> Root:
    """The root at ``path``, checked (see the module docstring).

    :class:`Untrusted` when someone else could change it; another ``OSError``
    when it cannot be reached or created (``ENOENT`` without ``create``).
    """
    if not HAVE_DIR_FD:
        from .pathroot import PathRoot

        if create:
            os.makedirs(path, 0o700, exist_ok=True)
        private(os.stat(path), "", _uid())
        return PathRoot(path)
    uid = _uid()
    real = os.path.realpath(path)
    fd = os.open("/", _WALK)
    try:
        done = "/"
        _ancestor(os.fstat(fd), done, uid)
        names = [name for name in real.split("/") if name]
        if not names:
            raise Untrusted(errno.EPERM, "/ itself cannot be a cache")
        for n, name in enumerate(names):
            last = n == len(names) - 1
            done = f"{done.rstrip('/')}/{name}"
            parent, fd = fd, _step(fd, name, _DIR if last else _WALK, create, done)
            os.close(parent)
            st = os.fstat(fd)
            if last:
                private(st, "", uid)
            else:
                _ancestor(st, done, uid)
        return FdRoot(real, fd)
    except BaseException:
        os.close(fd)
        raise


def _step(fd: int, name: str, flags: int, create: bool, where: str) -> int:
    """Open ``name`` inside ``fd`` (created 0700 if missing and asked to)."""
    try:
        try:
            return os.open(name, flags, dir_fd=fd)
        except FileNotFoundError:
            if not create:
                raise
            try:
                os.mkdir(name, 0o700, dir_fd=fd)
            except FileExistsError:
                pass
            return os.open(name, flags, dir_fd=fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK):  # O_NOFOLLOW met a link: the path changed under the check
            raise Untrusted(exc.errno, f"{where} became a symbolic link while it was checked") from None
        raise


def _ancestor(st: os.stat_result, where: str, uid: Optional[int]) -> None:
    """A folder above the root: root's or the user's, writable by nobody else unless sticky."""
    if not stat.S_ISDIR(st.st_mode):
        raise Untrusted(errno.ENOTDIR, f"{where} is not a folder")
    if st.st_uid not in (0, uid):  # in a sticky folder, an entry of another user's could be theirs to swap
        raise Untrusted(errno.EPERM, f"{where} is owned by uid {st.st_uid}")
    if st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX:
        raise Untrusted(errno.EPERM, f"{where} is writable by others (mode {st.st_mode & 0o777:o})")


class FdRoot:
    """A checked root folder held open; every path given to a method is relative to it."""

    def __init__(self, path: str, fd: int) -> None:
        self.path, self.fd = path, fd
        self.checked: Set[str] = set()

    def open(self, rel: str, flags: int, mode: int = 0o600) -> int:
        return os.open(rel, flags | _NOFOLLOW, mode, dir_fd=self.fd)

    def lstat(self, rel: str) -> os.stat_result:
        return os.stat(rel, dir_fd=self.fd, follow_symlinks=False)

    def mkdir(self, rel: str) -> None:
        os.mkdir(rel, 0o700, dir_fd=self.fd)

    def replace(self, src: str, dst: str) -> None:
        os.replace(src, dst, src_dir_fd=self.fd, dst_dir_fd=self.fd)

    def unlink(self, rel: str) -> None:
        os.unlink(rel, dir_fd=self.fd)

    def rmdir(self, rel: str) -> None:
        os.rmdir(rel, dir_fd=self.fd)

    def touch(self, rel: str) -> None:
        os.utime(rel, dir_fd=self.fd, follow_symlinks=False)

    def scandir(self, rel: str) -> List[Tuple[str, os.stat_result]]:
        """Names and ``lstat`` of what folder ``rel`` holds (opened ``O_NOFOLLOW``: links are listed, never followed)."""
        fd = self.open(rel or ".", _DIR)
        try:
            with os.scandir(fd) as entries:
                return [(entry.name, entry.stat(follow_symlinks=False)) for entry in entries]
        finally:
            os.close(fd)

    def sync(self, rel: str) -> None:
        """``fsync`` folder ``rel``, so a rename into it survives a crash."""
        fd = self.open(rel or ".", _DIR)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def full(self, rel: str) -> str:
        return f"{self.path.rstrip('/')}/{rel}" if rel else self.path

    def close(self) -> None:
        os.close(self.fd)


def folder(root: Root, rel: str, create: bool) -> None:
    """Check folder ``rel`` below the root (and its parents) once per process; create missing ones 0700.

    :class:`Untrusted` if one is not the user's private folder (e.g. left there by
    another user while the root was writable); ``FileNotFoundError`` if missing.
    """
    if rel in root.checked:
        return
    parent = rel.rpartition("/")[0]
    if parent:
        folder(root, parent, create)
    try:
        st = root.lstat(rel)
    except FileNotFoundError:
        if not create:
            raise
        try:
            root.mkdir(rel)
        except FileExistsError:
            pass
        st = root.lstat(rel)
    private(st, root.full(rel), _uid())
    root.checked.add(rel)


def read_file(root: Root, rel: str, limit: int = -1) -> bytes:
    """The bytes of regular file ``rel`` (at most ``limit``), if the user owns it and nobody else may write it."""
    fd = root.open(rel, os.O_RDONLY)
    try:
        st = os.fstat(fd)
        private(st, root.full(rel), _uid(), stat.S_IFREG)
        want = st.st_size if limit < 0 else min(limit, st.st_size)
        data = os.read(fd, want)  # entries are renamed into place whole: one read
        while len(data) < want:
            more = os.read(fd, want - len(data))
            if not more:
                break
            data += more
        return data
    finally:
        os.close(fd)


def open_file(root: Root, rel: str) -> int:
    """A descriptor of regular file ``rel`` opened to read, checked as :func:`read_file` checks it."""
    fd = root.open(rel, os.O_RDONLY)
    try:
        private(os.fstat(fd), root.full(rel), _uid(), stat.S_IFREG)
    except BaseException:
        os.close(fd)
        raise
    return fd
