"""The cache root's operations by path, for platforms without ``dir_fd`` (Windows).

Only the root itself is checked there, as zrun always did: ``%LOCALAPPDATA%`` is
private to the user by its ACL (see :mod:`zrun.cache.root`). Imported only where
it is used, so POSIX runs never load it.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Set, Tuple

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)  # as zrun.cache.root's


class PathRoot:
    """:class:`zrun.cache.root.FdRoot`'s operations by path, for platforms without ``dir_fd`` (see the module docstring)."""

    def __init__(self, path: str) -> None:
        self.path, self.fd = path, -1
        self.checked: Set[str] = set()

    def open(self, rel: str, flags: int, mode: int = 0o600) -> int:
        return os.open(self.full(rel), flags | _NOFOLLOW, mode)

    def lstat(self, rel: str) -> os.stat_result:
        return os.lstat(self.full(rel))

    def mkdir(self, rel: str) -> None:
        os.mkdir(self.full(rel), 0o700)

    def replace(self, src: str, dst: str) -> None:
        os.replace(self.full(src), self.full(dst))

    def unlink(self, rel: str) -> None:
        os.unlink(self.full(rel))

    def rmdir(self, rel: str) -> None:
        os.rmdir(self.full(rel))

    def touch(self, rel: str) -> None:
        os.utime(self.full(rel))

    def scandir(self, rel: str) -> List[Tuple[str, os.stat_result]]:
        with os.scandir(self.full(rel)) as entries:
            return [(entry.name, entry.stat(follow_symlinks=False)) for entry in entries]

    def sync(self, rel: str) -> None:
        """Folders cannot be opened for ``fsync`` everywhere (Windows): renames there are as durable as NTFS makes them."""
        try:
            fd = os.open(self.full(rel), os.O_RDONLY | _NOFOLLOW)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)

    def full(self, rel: str) -> str:
        return os.path.join(self.path, *rel.split("/")) if rel else self.path

    def close(self) -> None:
        pass
