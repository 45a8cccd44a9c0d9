"""Zip archives as sources: a file on disk (``.zip``, ``.pyz``, ``.whl``) or bytes.

The central directory is read once per archive identity and shared by every
source, finder and run over the same file (see :class:`zrun.zip.archive.Archive`).
A replaced archive is noticed by one ``stat`` and re-read, so the next import
sees the new content rather than zipimport's ``bad local file header``.
"""

from __future__ import annotations

import os
import stat

from ..errors import ArchiveNotFound, CorruptArchive
from ..source import Source, unique_root
from .archive import Archive, StaleArchive

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import AbstractSet, List, Optional, Tuple, Union

    PathOrBytes = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview]

_RETRIES = 10  # reads of a member while the archive keeps being replaced (the later ones after a pause)


def split_archive_path(path: str) -> Tuple[str, str]:
    """Split ``/a/app.zip/lib/x`` into the archive file and the inner prefix.

    The archive is the longest prefix that exists and is not a directory: a
    FIFO or device stops the walk too, so that opening it reports "not a
    regular file" (without blocking) instead of "no such archive".
    """
    archive, inner = os.path.abspath(path), ""
    while _walk_past(archive):
        parent, tail = os.path.split(archive)
        if not tail or parent == archive:
            raise ArchiveNotFound(os.fspath(path), "no such archive")
        archive, inner = parent, f"{tail}/{inner}" if inner else tail
    return archive, inner


def _walk_past(path: str) -> bool:
    """A directory, or nothing at all: the archive is further up.

    A path that ``stat`` refuses for another reason (a symlink loop, no
    permission) is where the walk stops, so opening it reports that errno.
    """
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except (FileNotFoundError, NotADirectoryError, ValueError):
        return True
    except OSError:
        return False


class ZipSource(Source):
    """A zip archive, optionally below a directory inside it (``app.zip/lib``).

    ``archive`` is a path (made absolute once) or the bytes of a zip held in
    memory. Only a path gives modules a real location and a ``__file__``.
    """

    def __init__(self, archive: PathOrBytes, *, name: Optional[str] = None) -> None:
        self._identity: Optional[Tuple[Archive, str]] = None
        if isinstance(archive, (bytes, bytearray, memoryview)):
            root = unique_root("zip", name)
            self._archive = Archive.from_bytes(bytes(archive), label=root)
            self._path: Optional[str] = None
            self._prefix = ""
            self.has_location = False
        else:
            text = os.fsdecode(archive)
            self._path, inner = split_archive_path(text)
            self._prefix = f"{inner}/" if inner else ""
            self._archive = Archive.open(self._path)
            self.archive_path = self._path
            root = os.path.join(self._path, inner) if inner else self._path
            self.has_location = True
        super().__init__(root)

    @property
    def archive(self) -> Archive:
        return self._archive

    def _index(self) -> Tuple[AbstractSet[str], AbstractSet[str]]:
        """Name sets: searched in the cached table for a large archive, else frozensets of every name."""
        prefix = self._prefix
        archive = self._archive
        if archive.table_backed():
            from .tableviews import Names  # already imported: the table's views are its classes

            dirs = archive.dirs
            assert isinstance(dirs, Names)
            return dirs.below(prefix, dirs=False), dirs.below(prefix, dirs=True)
        if not prefix:
            return frozenset(self._archive.members), self._archive.dirs
        cut = len(prefix)
        names = frozenset(n[cut:] for n in self._archive.members if n.startswith(prefix))
        return names, frozenset(d[cut:] for d in self._archive.dirs if d.startswith(prefix))

    def children(self, name: str) -> List[str]:
        """As :meth:`Source.children`; bisected in the table of a large archive instead of grouping every name."""
        if self._archive.table_backed():
            from .tableviews import Names

            files, dirs = self._files, self._dirs
            assert isinstance(files, Names) and isinstance(dirs, Names)
            return sorted(files.children(name) + dirs.children(name))
        return super().children(name)

    def is_stale(self) -> bool:
        return self._archive.is_stale()

    def _reopen(self) -> None:
        if self._path is not None:
            self._archive = Archive.open(self._path)

    def read(self, name: str, limit: Optional[int] = None) -> bytes:
        """Read a member (under ``limit`` bytes, if given); if the file was replaced since indexing, re-index and retry."""
        for attempt in range(_RETRIES):
            try:
                return self._archive.read(self._prefix + name, limit)
            except StaleArchive:
                if attempt >= 2:  # replaced again and again: give the writer time to finish (1 ms, doubling)
                    from ..stdlib import stdlib

                    stdlib("time").sleep(min(0.001 * 2 ** (attempt - 2), 0.05))
                self.reload()
        raise CorruptArchive(self._archive.path, f"archive kept changing on disk while {_RETRIES} reads were tried", self._prefix + name)

    def mtime(self, name: str) -> Optional[float]:
        member = self._archive.members.get(self._prefix + name)
        return member.mtime if member else None

    def identity(self) -> str:
        """The archive's identity as text; built once per archive object (every module's cache key asks for it)."""
        archive = self._archive
        known = self._identity
        if known is not None and known[0] is archive:
            return known[1]
        ident = ",".join(str(part) for part in archive.identity)
        text = f"zip:{archive.path}:{ident}:{self._prefix}"
        self._identity = (archive, text)
        return text
