"""Archive files on disk: opened as regular files only, identified by ``stat``, parsed.

Everything that touches the file itself before a member is read lives here:
the open that never blocks on a FIFO, the identity that notices a rewrite,
and the parse of its central directory (:mod:`zrun.zip.index`), which both
:mod:`zrun.zip.archive` and a damaged stored index (:mod:`zrun.zip.indexcache`)
call for.
"""

from __future__ import annotations

import os
import stat

from ..errors import ArchiveError, ArchiveNotFound
from ..stdlib import stdlib
from .index import read_index

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO, Optional, Tuple

    from .index import Fetch, Index, Large

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)  # no FIFO hang


class NotRegularFile(OSError):
    """A directory, FIFO or device where a file was expected (``errno`` EISDIR for a directory)."""


def open_regular(path: str) -> Tuple[BinaryIO, os.stat_result]:
    """Open a regular file to read, never blocking on a FIFO; anything else is an ``OSError``.

    Checked on the opened descriptor, so the file cannot be swapped between
    the check and the read.
    """
    fd = os.open(path, _OPEN_FLAGS)
    try:  # the descriptor is ours until open() below owns it
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            errno = stdlib("errno")  # only to say why: a run of regular files never imports it
            raise NotRegularFile(errno.EISDIR if stat.S_ISDIR(st.st_mode) else errno.EINVAL, "not a regular file", path)
    except BaseException:
        os.close(fd)
        raise
    return open(fd, "rb"), st


def starts_with(path: str, signature: bytes) -> bool:
    """Whether ``path`` is a regular file whose first bytes are ``signature``.

    Asked of every location before it is tried as a zip, so it must not block:
    a plain ``open()`` of a FIFO waits for a writer forever.
    """
    try:
        stream, _ = open_regular(path)
        with stream:
            return stream.read(len(signature)) == signature
    except OSError:
        return False


def missing(path: str) -> OSError:
    """Why ``path`` is no file, as ``os.stat`` says: ``ENOENT``, or ``ELOOP`` for a symlink loop, ``EACCES``...

    For messages that name the real errno, as ``python PATH`` does, where a
    bare "does not exist" would send the user looking for a typo.
    """
    try:
        os.stat(path)
    except OSError as e:
        return OSError(e.errno, e.strerror, os.path.abspath(path))  # OSError(ENOENT, ...) is a FileNotFoundError
    except ValueError:  # an embedded NUL: no such file either
        pass
    errno = stdlib("errno")
    return OSError(errno.ENOENT, os.strerror(errno.ENOENT), os.path.abspath(path))


def open_archive(path: str) -> Tuple[BinaryIO, os.stat_result]:
    """:func:`open_regular`, its failures told as archive errors."""
    try:
        return open_regular(path)
    except (FileNotFoundError, NotADirectoryError):
        raise ArchiveNotFound(path, "no such file") from None
    except NotRegularFile as e:
        directory = e.errno == stdlib("errno").EISDIR
        raise ArchiveNotFound(path, "is a directory, not a zip archive" if directory else "not a regular file") from None
    except OSError as e:
        if os.path.isdir(path):  # Windows refuses to open directories
            raise ArchiveNotFound(path, "is a directory, not a zip archive") from None
        raise ArchiveError(path, f"cannot open: [Errno {e.errno}] {e.strerror}" if e.strerror else f"cannot open: {e}") from e


def identity(st: os.stat_result) -> Tuple[int, ...]:
    """What changes when the file is rewritten; the change time too, which no user can set (``cp -p`` restores mtime)."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def reader(f: BinaryIO) -> Fetch:
    """``fetch(position, length)`` over an open file, as :func:`zrun.zip.index.read_index` reads."""

    def fetch(pos: int, n: int) -> bytes:
        f.seek(pos)
        return f.read(n)

    return fetch


def parse(f: BinaryIO, st: os.stat_result, path: str, large: Optional[Large] = None) -> Index:
    """The central directory of the open file ``f`` (``st`` its ``fstat``); ``large`` as :func:`~zrun.zip.index.read_index` takes it."""
    try:
        return read_index(reader(f), st.st_size, path, large)
    except OSError as e:  # a dying disk or NFS mount: still an error naming the archive
        raise ArchiveError(path, f"cannot read: {e}") from e


def parse_again(path: str, st: os.stat_result) -> Tuple[Index, bool]:
    """A fresh parse for a cached table found damaged in use, and whether the file is still ``st``'s."""
    f, now = open_archive(path)
    with f:
        return parse(f, now, path), identity(now) == identity(st)
