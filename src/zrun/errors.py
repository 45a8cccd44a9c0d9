"""zrun's exceptions: one root, typed by what went wrong, each naming its file.

Errors that runpy raises as ``ImportError`` are ``ImportError`` here too, so
code that switches from runpy keeps its ``except`` clauses.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional


class ZrunError(Exception):
    """Root of everything zrun raises on purpose."""


class TargetError(ZrunError, ValueError):
    """A target string that does not parse: a usage error (CLI exit 2)."""


class NotRunnable(ZrunError, ImportError):
    """The target was parsed but names nothing that can run (runpy's messages)."""


class MissingPath(NotRunnable):
    """The target's file or directory does not exist (``python PATH`` exits 2 for it; so does the CLI)."""


class ArchiveError(ZrunError, ImportError):
    """A zip archive or bundle that cannot be read; names the file and member."""

    def __init__(self, path: str, reason: str, member: Optional[str] = None) -> None:
        self.path = path
        self.member = member
        self.reason = reason
        where = f"{path}: {member}" if member else path
        super().__init__(f"{where}: {reason}", path=path)


class ArchiveNotFound(ArchiveError):
    """The archive path does not exist or is not a regular file."""


class NotAnArchive(ArchiveError):
    """The file exists but holds no zip end-of-central-directory record."""


class CorruptArchive(ArchiveError):
    """The central directory or a member's headers or data are damaged."""


class UnsupportedMember(ArchiveError):
    """A member zrun cannot decode: unknown compression or encryption."""


class MemberTooLarge(UnsupportedMember):
    """A member over a size limit, or too big for the memory this process may still allocate."""


class BadMetadata(CorruptArchive):
    """A ``*.dist-info`` metadata file that does not parse (named with its line)."""


class BundleError(ArchiveError):
    """A frozen bundle that is damaged or built for another interpreter."""


class ExtensionInArchive(ZrunError, ImportError):
    """A native extension module inside an archive, which cannot load from memory."""
